/*
 * drover_provider.h - what a cloud provider implements (the implementer's
 * side of the boundary, like curl's vtls_int.h or libgit2's git2/sys/).
 *
 * A provider is one `const struct drover_provider` with everything else in
 * its folder `static`. The engine calls it only through this table and
 * never includes a provider's own headers. New members are only ever
 * appended; bump DROVER_PROVIDER_VERSION when they are.
 *
 * Threading: apply calls list/create/update/delete from several worker
 * threads at once on the same state. A provider must be safe for that
 * (e.g. one curl easy handle per call, no shared mutable buffers).
 */
#ifndef DROVER_PROVIDER_H
#define DROVER_PROVIDER_H

#include <jansson.h>
#include "drover.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2: drover_rtype gained exports, rules and name_check; drover_provider
 * gained settings; drover_res_req and drover_live gained sensitive. The
 * engine reads those members only from tables that say version >= 2. */
#define DROVER_PROVIDER_VERSION 2
#define DROVER_PROVIDER_VERSION_MIN 1

/* Ownership label keys. Each provider stores them in its cloud's own
 * label mechanism (LXD: config "user.drover.<key>"). */
#define DROVER_LABEL_STACK "stack"     /* stack name */
#define DROVER_LABEL_ADDRESS "address" /* resource address, "web[0]" */
#define DROVER_LABEL_HASH "hash"       /* hash of the desired properties */
#define DROVER_LABEL_VERSION "version" /* drover version that wrote it */
#define DROVER_LABEL_DEPS "deps"       /* comma-separated addresses it depends on */
#define DROVER_LABEL_SENSITIVE "sensitive" /* comma-separated property pointers that
                                               held secrets ("/config/user.token") */

/* --------------------------------------------------------------------------
 * Schema
 */

typedef enum {
  DROVER_T_ANY = 0,
  DROVER_T_STRING = 1,
  DROVER_T_INTEGER = 2,
  DROVER_T_NUMBER = 3,
  DROVER_T_BOOLEAN = 4,
  DROVER_T_ARRAY = 5,      /* array of strings */
  DROVER_T_OBJECT = 6,     /* object of anything */
  DROVER_T_STRING_MAP = 7, /* object whose values are strings (LXD config) */
  DROVER_T_OBJECT_MAP = 8  /* object whose values are string maps (LXD devices) */
} drover_ptype;

#define DROVER_PROP_REQUIRED 0x01u  /* must be set in the template */
#define DROVER_PROP_FORCE_NEW 0x02u /* a change forces replacement */
#define DROVER_PROP_NO_DIFF 0x04u   /* never compared with live state */
#define DROVER_PROP_SENSITIVE 0x08u /* always holds secrets: shown as (sensitive) */

typedef struct drover_prop {
  const char *name;
  drover_ptype type;
  unsigned flags;              /* DROVER_PROP_* */
  const char *default_json;    /* JSON text of the default, NULL for none */
  const char *const *enum_values; /* NULL-terminated, for strings; NULL for any */
  const char *doc;             /* one line, for errors and docs */
} drover_prop;

/* Value rules, checked at validate on literal values and at plan on
 * evaluated ones, so a template that can only fail at apply fails early. */
#define DROVER_RULE_NONEMPTY 0x01u /* strings: not "" */
#define DROVER_RULE_MIN 0x02u      /* numbers: >= min; strings: >= min characters */
#define DROVER_RULE_MAX 0x04u      /* numbers: <= max; strings: <= max characters */
#define DROVER_RULE_ABOVE_MIN 0x08u /* numbers: > min (with DROVER_RULE_MIN) */

typedef struct drover_rule {
  const char *prop;            /* property (or setting) name; NULL ends a list */
  unsigned flags;              /* DROVER_RULE_* */
  double min, max;
  const char *pattern;         /* POSIX ERE a string must match wholly, or NULL */
  const char *pattern_doc;     /* what the pattern means, for errors */
} drover_rule;

/* A cloud-name rule: 0 when name is acceptable; otherwise writes a phrase
 * such as `must start with a letter` to why (size bytes) and returns 1.
 * Pure: no I/O, callable before init. */
typedef int (*drover_name_check_fn)(const char *name, char *why, size_t size);

typedef struct drover_rtype {
  const char *name;            /* "lxd.instance" */
  const drover_prop *props;    /* terminated by an entry with name == NULL */
  /* Orphans (no longer in the template) are deleted in decreasing
   * delete_order, so dependents (instances: 1) go before what they use
   * (profiles, volumes: 0). Dependency labels refine this. */
  int delete_order;
  const char *doc;
  /* ---- version >= 2 (members below are read only from such tables) ---- */
  /* Attributes references may read besides the properties and "name"
   * ("status"), NULL-terminated. NULL: not declared, any attribute is
   * accepted; an empty list declares there are none. */
  const char *const *exports;
  /* Value rules per property; NULL or terminated by prop == NULL. */
  const drover_rule *rules;
  /* Rule for the cloud name (given or derived); NULL: any. */
  drover_name_check_fn name_check;
} drover_rtype;

/* --------------------------------------------------------------------------
 * Live objects
 */

/* One object read from the cloud. Every member is owned by the struct. */
typedef struct drover_live {
  char *name;          /* cloud name */
  char *address;       /* ownership label; NULL when missing */
  char *hash;          /* hash label; NULL when missing */
  char *deps;          /* deps label; NULL when missing */
  char *etag;          /* for If-Match; NULL when the API has none */
  char *status;        /* free text for `drover show` ("Running"); may be NULL */
  json_t *properties;  /* observed, normalised to the template's shape,
                          without labels or server-owned keys */
  json_t *attributes;  /* referenceable attributes; includes "name" */
  char *stack;         /* stack label; NULL when missing (appended member) */
  char *sensitive;     /* sensitive label (DROVER_LABEL_SENSITIVE); NULL when
                          missing (version >= 2) */
} drover_live;

/* Returns a zeroed object (properties and attributes are empty objects);
 * NULL on allocation failure. Free with drover_live_free(). */
drover_live *drover_live_new(void);
void drover_live_free(drover_live *live);

/* A growable array of live objects. Owns its items. */
typedef struct drover_live_list {
  drover_live **items;
  size_t count, cap;
} drover_live_list;

/* Takes ownership of live, also on failure. */
drover_code drover_live_list_push(drover_live_list *list, drover_live *live);
/* Frees the items and the array; leaves an empty list. */
void drover_live_list_clear(drover_live_list *list);

/* --------------------------------------------------------------------------
 * Requests
 */

typedef struct drover_res_req {
  const char *stack;
  const char *address;
  const char *name;            /* cloud name, deterministic from stack+address */
  const char *hash;
  const char *deps;            /* comma-separated addresses, "" for none */
  const json_t *properties;    /* desired, every reference resolved, defaults filled */
  const char *if_match;        /* update: ETag the plan read, NULL for none */
  const char *const *changed;  /* update: NULL-terminated changed property names */
  double deadline;             /* absolute CLOCK_MONOTONIC seconds for waits */
  /* version >= 2: comma-separated property pointers that hold secrets, ""
   * for none. Stored as the DROVER_LABEL_SENSITIVE label so a later run
   * redacts the old values even after the template stopped marking them. */
  const char *sensitive;
} drover_res_req;

/* What the engine lends a provider at init. */
typedef struct drover_provider_env {
  drover_log_fn log;           /* thread safe; redacts secrets */
  void *log_userdata;
  const char *user_agent;      /* "drover/0.1.0" */
} drover_provider_env;

/* --------------------------------------------------------------------------
 * The table
 */

#define DROVER_CAP_ETAG 0x01u  /* live objects carry ETags; update honours If-Match */
#define DROVER_CAP_WAIT 0x02u  /* create/update/delete wait for async ops */

typedef struct drover_provider {
  unsigned version;            /* DROVER_PROVIDER_VERSION */
  const char *name;            /* "lxd": the template's providers key and type prefix */
  unsigned caps;               /* DROVER_CAP_* */
  size_t state_size;           /* bytes the engine allocates (zeroed) for state */
  const drover_rtype *const *types; /* NULL-terminated */

  /* Reads the provider's settings (template "providers.<name>" merged
   * with the admin config) and connects. A missing project/namespace is an
   * error (DROVER_E_NOT_FOUND), never "create everything". */
  drover_code (*init)(void *state, const json_t *config,
                      const drover_provider_env *env, drover_error *err);

  /* Releases what init acquired. Called once, also after a failed init. */
  void (*cleanup)(void *state);

  /* Appends to out every object of type labelled with stack, in as few
   * API calls as the cloud allows (one for LXD). stack NULL: every object
   * that carries a drover stack label (for `drover gc`). Required. */
  drover_code (*list)(void *state, const drover_rtype *type, const char *stack,
                      drover_live_list *out, drover_error *err);

  /* Creates req->name with all labels set in the first request, waits
   * until it is usable or req->deadline, and returns it as listed.
   * If an object of that name already exists with this stack's labels
   * (a retry after a lost response), adopt it instead of failing.
   * *out is owned by the caller. Required. */
  drover_code (*create)(void *state, const drover_rtype *type,
                        const drover_res_req *req, drover_live **out,
                        drover_error *err);

  /* Changes cur in place to req->properties and rewrites the labels.
   * Uses req->if_match when set; a mismatch is DROVER_E_CONFLICT.
   * *out is owned by the caller. NULL when every change forces
   * replacement. */
  drover_code (*update)(void *state, const drover_rtype *type,
                        const drover_res_req *req, const drover_live *cur,
                        drover_live **out, drover_error *err);

  /* Deletes cur (stopping it first if needed) and waits until deadline.
   * An object already gone is success. Required. */
  drover_code (*del)(void *state, const drover_rtype *type,
                     const drover_live *cur, double deadline, drover_error *err);

  /* Optional: reads one object by cloud name; DROVER_E_NOT_FOUND if
   * absent. *out is owned by the caller. */
  drover_code (*read)(void *state, const drover_rtype *type, const char *name,
                      drover_live **out, drover_error *err);

  /* ---- version >= 2 ---- */
  /* The settings init accepts ("providers.<name>" keys), terminated by an
   * entry with name == NULL, and their rules (drover_setting.rule.prop is
   * unused). NULL: not declared (any key reaches init). validate checks
   * the template's settings against it with file:line:col. */
  const struct drover_setting *settings;
} drover_provider;

typedef struct drover_setting {
  const char *name;
  drover_ptype type;           /* DROVER_T_STRING, _NUMBER, _INTEGER or _BOOLEAN */
  drover_rule rule;            /* value rules (flags 0: none) */
  const char *doc;
} drover_setting;

/* --------------------------------------------------------------------------
 * Helpers for providers (implemented in libdrover)
 */

/* Records an error unless err already holds one (first error wins).
 * Printf-style; the text is one line. Returns code. */
drover_code drover_error_set(drover_error *err, drover_code code,
                             const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Sets err->source (e.g. "lxd") and err->address if they are empty. */
void drover_error_locate(drover_error *err, const char *source, const char *address);

/* Monotonic seconds. */
double drover_now(void);

/* Logs through env with printf formatting. */
void drover_logf(const drover_provider_env *env, drover_log_level level,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* --------------------------------------------------------------------------
 * HTTP (one shared module on libcurl, plugin/lib/http.c)
 */

typedef struct drover_http drover_http;

typedef struct drover_http_config {
  const char *base_url;        /* "http://lxd" over a socket, "https://h:8443" */
  const char *unix_socket;     /* path, or NULL for TCP */
  const char *ca_file;         /* verify the server against this CA/cert; NULL: system store */
  const char *pinned_pubkey;   /* curl CURLOPT_PINNEDPUBLICKEY form, or NULL */
  const char *client_cert;     /* PEM paths for TLS client auth, or NULL */
  const char *client_key;
  double connect_timeout;      /* seconds; 0: 10 */
  double timeout;              /* seconds per request; 0: 60 */
  unsigned max_retries;        /* per request; 0: 4 */
  double retry_base;           /* seconds; 0: 0.25, doubled per try, full jitter */
  double retry_max;            /* cap on one backoff sleep; 0: 8 */
  unsigned retry_budget;       /* retries allowed over the handle's life; 0: 100 */
} drover_http_config;

typedef struct drover_http_response {
  long status;                 /* HTTP status */
  char *body;                  /* NUL-terminated, owned */
  size_t len;
  char *etag;                  /* owned; NULL when absent */
} drover_http_response;

/* Copies what it needs from cfg. *out is owned by the caller:
 * drover_http_free(). Thread safe to share between threads. */
drover_code drover_http_new(drover_http **out, const drover_http_config *cfg,
                            drover_error *err);
void drover_http_free(drover_http *http);

/*
 * One request, retried on connection errors, 429 and 5xx with exponential
 * backoff, jitter and Retry-After, within the retry budget. Any other
 * status is returned to the caller in resp (the caller maps 4xx to its
 * own message). Transport failure after the retries is DROVER_E_TRANSIENT.
 * body may be NULL; if_match may be NULL. Free resp with
 * drover_http_response_free().
 */
drover_code drover_http_request(drover_http *http, const char *method,
                                const char *path, const char *if_match,
                                const char *body, size_t body_len,
                                drover_http_response *resp, drover_error *err);
void drover_http_response_free(drover_http_response *resp);

#ifdef __cplusplus
}
#endif

#endif /* DROVER_PROVIDER_H */
