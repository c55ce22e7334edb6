/*
 * ec2.h - internals of the AWS provider (EC2 Query API). Only
 * providers/aws/ includes this; the engine sees nothing but the table
 * dv_provider_aws (or, as a module, drover_provider_entry).
 *
 * Names shared between the provider's files carry the ec2_ prefix and
 * hidden visibility; everything else is static to its file.
 */
#ifndef DROVER_EC2_INTERNAL_H
#define DROVER_EC2_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <jansson.h>
#include <libxml/tree.h>
#include "drover_provider.h"
#include "aws_xml.h"

#if defined(__GNUC__)
#define EC2_HIDDEN __attribute__((visibility("hidden")))
#define EC2_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EC2_HIDDEN
#define EC2_PRINTF(a, b)
#endif

/* The Query API version every request names. */
#define EC2_API_VERSION "2016-11-15"
/* Ownership labels are tags "drover:<label>"; the display name drover
 * chose is "drover:name" (and "Name" unless the template sets one). */
#define EC2_TAG_PREFIX "drover:"
#define EC2_TAG_NAME "drover:name"
/* Root volumes carry the stack tag and this one, so one DescribeVolumes
 * per refresh finds every instance's root volume size. */
#define EC2_TAG_ROOT "drover:root"

typedef struct ec2_cred {
  char *akid;
  char *secret;
  char *token;                 /* NULL when none */
  double expires;              /* drover_now() seconds; 0: does not expire */
  char source[160];            /* where they came from (never a value) */
} ec2_cred;

/* Provider state: the engine allocates sizeof(ec2_state) zeroed bytes. */
typedef struct ec2_state {
  drover_provider_env env;     /* copy; strings borrowed from the engine */
  char *region;
  char *endpoint;              /* "https://ec2.us-east-1.amazonaws.com" */
  char *ca_file;
  char *profile;               /* settings "profile", or NULL */
  char *credentials_file;      /* settings "credentials_file", or NULL */
  char *imds_endpoint;         /* "http://169.254.169.254" */
  /* What turned the instance role (IMDS) off, for the messages: NULL
   * when on, else the "imds": false setting or AWS_EC2_METADATA_DISABLED
   * (static text). */
  const char *imds_off;
  double poll_interval;        /* seconds between describe calls while waiting */
  unsigned page_size;          /* MaxResults of describe calls */
  double timeout;
  /* The transport retries throttling sent as 503 and 429; a
   * RequestLimitExceeded sent as a 400 is retried by ec2_call, with the
   * same limits and backoff, counted here. */
  unsigned max_retries, retry_budget;
  double retry_base;
  atomic_uint retries_used;
  drover_http *http;           /* the EC2 endpoint */
  drover_http *imds;           /* the metadata service, made when first needed */
  pthread_mutex_t lock;        /* guards cred, imds and the IMDS token */
  int lock_ready;
  ec2_cred cred;
  int cred_imds;               /* cred came from the instance role */
  char *imds_token;
  double imds_token_expires;
  /* ec2_watch.c: the threads waiting on instance states, served by one
   * describe per poll for all of them. */
  pthread_mutex_t watch_mu;
  pthread_cond_t watch_cv;
  int watch_ready;
  struct ec2_watch *watches;   /* guarded by watch_mu */
  int watch_polling;           /* a thread is polling for all */
} ec2_state;

/* --------------------------------------------------------------------------
 * Credentials (ec2_cred.c)
 */

/* Loads credentials in the order users expect: the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the shared
 * credentials file, then the config file, with the profile (settings
 * "profile", AWS_PROFILE or "default"; settings "credentials_file" names
 * the only file to read); the instance role through IMDSv2. Registers
 * the secret and token for redaction. Errors name places, never values. */
EC2_HIDDEN drover_code ec2_cred_load(ec2_state *st, drover_error *err);

/* Copies the current credentials into *out (free with ec2_cred_free),
 * first refreshing role credentials that expire within five minutes.
 * Thread safe. */
EC2_HIDDEN drover_code ec2_cred_get(ec2_state *st, ec2_cred *out, drover_error *err);
EC2_HIDDEN void ec2_cred_free(ec2_cred *c);

/* --------------------------------------------------------------------------
 * Query requests (ec2_form.c: pure, unit-tested)
 */

/* A form-encoded Query body, "Action=X&Version=2016-11-15&K=V...". An
 * allocation failure is remembered and reported by ec2_form_done(). */
typedef struct ec2_form {
  char *buf;
  size_t len, cap;
  int oom;
  const char *action;          /* borrowed */
  /* For calls without an idempotency token (CreateSnapshot): called before
   * each retry; DROVER_E_CONFLICT means the first try took effect after
   * all (its answer was lost), so the call stops with that code. */
  drover_code (*before_retry)(void *ud, drover_error *err);
  void *retry_ud;
} ec2_form;

EC2_HIDDEN void ec2_form_init(ec2_form *f, const char *action);
/* Appends key=value, both percent-encoded as SigV4 wants. */
EC2_HIDDEN void ec2_form_add(ec2_form *f, const char *key, const char *value);
/* Appends a key built from keyfmt ("Tag.%u.Key") with value. */
EC2_HIDDEN void ec2_form_addf(ec2_form *f, const char *value, const char *keyfmt, ...)
  EC2_PRINTF(3, 4);
/* 0 when the form is complete, -1 after an allocation failure. */
EC2_HIDDEN int ec2_form_done(const ec2_form *f);
EC2_HIDDEN void ec2_form_free(ec2_form *f);

/* Adds "<prefix>Tag.N.Key/Value" for the ownership labels of req and
 * then the user's tags (object of strings, may be NULL), starting at
 * *n (advanced). With display_name, also drover:name and, unless tags
 * hold one, Name. */
EC2_HIDDEN void ec2_form_tags(ec2_form *f, const char *prefix, unsigned *n,
                              const drover_res_req *req, const json_t *tags,
                              int display_name);

/* Adds Filter.<n> on the stack tag (stack NULL: any drover stack). */
EC2_HIDDEN void ec2_form_stack_filter(ec2_form *f, unsigned n, const char *stack);

/* The RunInstances request for req (properties of aws.instance):
 * one instance, ClientToken from req->idempotency_token, tags on the
 * instance and its volumes through TagSpecifications, user data in
 * base64. root_device: the image's root device name, needed only when
 * root_volume_size is set. */
EC2_HIDDEN void ec2_form_run(ec2_form *f, const drover_res_req *req, const char *root_device);

/* --------------------------------------------------------------------------
 * Answers (ec2_parse.c: pure, unit-tested)
 */

/* Appends the instances of a DescribeInstances (or RunInstances) answer
 * to out, skipping terminated and shutting-down ones unless keep_gone,
 * and sets *next
 * (caller frees) to its nextToken, NULL on the last page. Each live
 * object has name = instance ID, the labels from its tags, properties in
 * the template's shape (image, instance_type, subnet, security_groups,
 * key_name, tags, state) and attributes (id, status, private_ip,
 * public_ip, availability_zone, root_device). */
EC2_HIDDEN drover_code ec2_parse_instances(xmlDoc *doc, int keep_gone, drover_live_list *out,
                                           char **next, drover_error *err);

/* The root volume sizes of a DescribeVolumes answer: for every volume
 * attached to an instance, sets sizes[instance ID + "\n" + device] to its
 * size in GiB. *next as above. */
EC2_HIDDEN drover_code ec2_parse_volume_sizes(xmlDoc *doc, json_t *sizes, char **next,
                                              drover_error *err);

/* Appends the volumes of a DescribeVolumes (or CreateVolume) answer to
 * out, leaving out aws.instance's root volumes (tag drover:root) and
 * volumes being deleted. Properties: size, type, zone, instance, device,
 * tags; attributes id, name, status, attachment. *next as above. */
EC2_HIDDEN drover_code ec2_parse_volumes(xmlDoc *doc, drover_live_list *out, char **next,
                                         drover_error *err);

/* Appends the snapshots of a DescribeSnapshots answer to out.
 * Properties: volume, description, tags; attributes id, name, status,
 * created (Unix seconds) and all_tags (every tag, drover's included). */
EC2_HIDDEN drover_code ec2_parse_snapshots(xmlDoc *doc, drover_live_list *out, char **next,
                                           drover_error *err);

/* Appends the placement groups of a DescribePlacementGroups answer (one
 * page: the call has no paging) to out: name = group name, status = its
 * state, labels from the tags; attributes group_id, name and all_tags
 * (every tag, for the backup.policy record's drover:policy.N). */
EC2_HIDDEN drover_code ec2_parse_placement_groups(xmlDoc *doc, drover_live_list *out,
                                                  drover_error *err);
/* The states of listed instances, for many lookups: (ID, state) pairs of
 * list's items sorted by ID, 2 * list->count pointers borrowed from list
 * (caller frees the array only); NULL on allocation failure. */
EC2_HIDDEN const char **ec2_state_index(const drover_live_list *list);
/* The state of instance id in index (ec2_state_index of list), or NULL
 * when list does not hold it. */
EC2_HIDDEN const char *ec2_state_find(const char **index, const drover_live_list *list,
                                      const char *id);

/* --------------------------------------------------------------------------
 * Calls (ec2_api.c)
 */

/* Records "aws: <address>: <text>" (or "aws: <text>") located at "aws".
 * Returns code. */
#define ec2_fail(err, code, address, ...) \
  drover_error_fail((err), (code), "aws", (address), __VA_ARGS__)

/* The drover_code for an EC2 error code and HTTP status: "*.NotFound"
 * and "*.Malformed" IDs NOT_FOUND, throttling and 5xx TRANSIENT, the
 * rest PROVIDER (surfaced at once, with the AWS code and message). */
EC2_HIDDEN drover_code ec2_error_class(long status, const aws_error *e);

/* Sends f signed with SigV4 (service ec2). Throttling (RequestLimitExceeded,
 * as 503 or 400), 5xx and connection errors are retried with backoff and
 * full jitter within max_retries and the retry budget. On success
 * *doc is the parsed answer (caller frees with aws_xml_free). On an error
 * answer err reads "aws: <address>: <Action>: HTTP <s> <Code>: <Message>
 * (request id <id>)", and code (when not NULL, 64 bytes) gets the AWS code. */
EC2_HIDDEN drover_code ec2_call(ec2_state *st, const ec2_form *f, const char *address,
                                xmlDoc **doc, char *code, drover_error *err);

/* ec2_call, the answer dropped, and f freed. */
EC2_HIDDEN drover_code ec2_do(ec2_state *st, ec2_form *f, const char *address, char *code,
                              drover_error *err);

/* Sends base, then base + NextToken while answers carry one; fn reads
 * each page and sets *next (owned; NULL on the last page). */
typedef drover_code (*ec2_page_fn)(xmlDoc *doc, void *ud, char **next, drover_error *err);
EC2_HIDDEN drover_code ec2_each_page(ec2_state *st, const ec2_form *base, const char *address,
                                     ec2_page_fn fn, void *ud, drover_error *err);

/* One Describe* call, the way every type lists and reads: sends f
 * (consumed: freed, also on failure) and reads each page with fn. paged:
 * adds MaxResults = page_size first (EC2 refuses MaxResults beside a list
 * of IDs, so reads by ID pass 0). */
EC2_HIDDEN drover_code ec2_describe(ec2_state *st, ec2_form *f, int paged, const char *address,
                                    ec2_page_fn fn, void *ud, drover_error *err);

/* Rewrites drover's labels and the user's tags (req's "tags") on id, and
 * removes the user tags of had (the live "tags") no longer wanted. With
 * display_name, also drover:name and Name. */
EC2_HIDDEN drover_code ec2_retag(ec2_state *st, const char *id, const drover_res_req *req,
                                 const json_t *had, int display_name, drover_error *err);

/* Whether req->changed names prop. */
EC2_HIDDEN int ec2_changed(const drover_res_req *req, const char *prop);

/* deadline when set (> 0), else now + fallback seconds. */
EC2_HIDDEN double ec2_deadline(double deadline, double fallback);

/* Moves list's first item to *out (owned by the caller) and clears the
 * list; with rc OK and an empty list, NOT_FOUND "<what> <id> not found".
 * Returns the resulting code. */
EC2_HIDDEN drover_code ec2_take_first(drover_code rc, drover_live_list *list, const char *what,
                                      const char *id, const char *address, drover_live **out,
                                      drover_error *err);

/* A copy of s (caller frees), NULL for NULL; *oom set on failure. */
EC2_HIDDEN char *ec2_dup(const char *s, int *oom);

/* Sleeps poll_interval, or until deadline if sooner; 1 when the deadline
 * has passed. */
EC2_HIDDEN int ec2_pause(const ec2_state *st, double deadline);

/* --------------------------------------------------------------------------
 * Types
 */

typedef struct ec2_type_ops {
  drover_code (*list)(ec2_state *st, const char *stack, drover_live_list *out,
                      drover_error *err);
  drover_code (*create)(ec2_state *st, const drover_res_req *req, drover_live **out,
                        drover_error *err);
  drover_code (*update)(ec2_state *st, const drover_res_req *req, const drover_live *cur,
                        drover_live **out, drover_error *err);
  drover_code (*del)(ec2_state *st, const drover_live *cur, double deadline,
                     drover_error *err);
  drover_code (*read)(ec2_state *st, const char *id, drover_live **out, drover_error *err);
} ec2_type_ops;

/* Every page of the DescribeInstances f (consumed; paged as for
 * ec2_describe) appended to out, terminated and shutting-down instances
 * too when keep_gone (ec2_api.c). */
EC2_HIDDEN drover_code ec2_describe_instances(ec2_state *st, ec2_form *f, int paged,
                                              const char *address, int keep_gone,
                                              drover_live_list *out, drover_error *err);

/* aws.instance's del_many (ec2_terminate.c): TerminateInstances and the
 * wait for "terminated" for up to 1000 instances per call; results per
 * instance as drover_provider.del_many says. */
EC2_HIDDEN drover_code ec2_terminate_many(ec2_state *st, const drover_live *const *curs,
                                          size_t n, double deadline, drover_code *rcs,
                                          drover_error *errs);

/* Waits until instance id is in state want ("running", "stopped",
 * "terminated") or deadline, sharing the describe calls with every other
 * thread waiting on an instance of st (ec2_watch.c). An instance not
 * listed is gone when want is "terminated", else not visible yet;
 * terminated while waiting for another state is an error. */
typedef struct ec2_watch ec2_watch;
EC2_HIDDEN drover_code ec2_watch_state(ec2_state *st, const char *id, const char *want,
                                       double deadline, const char *address,
                                       drover_error *err);

EC2_HIDDEN extern const drover_rtype ec2_instance_type;
EC2_HIDDEN extern const ec2_type_ops ec2_instance_ops;
EC2_HIDDEN extern const drover_rtype ec2_volume_type;
EC2_HIDDEN extern const ec2_type_ops ec2_volume_ops;
EC2_HIDDEN extern const drover_rtype ec2_snapshot_type;
EC2_HIDDEN extern const ec2_type_ops ec2_snapshot_ops;
EC2_HIDDEN extern const drover_rtype ec2_policy_type;
EC2_HIDDEN extern const ec2_type_ops ec2_policy_ops;

/* --------------------------------------------------------------------------
 * Backups (ec2_backup.c): the provider's snapshot ops for backup.policy
 */

/* The tag that names the run a snapshot comes from: aws.snapshot's
 * idempotency token, a backup's snapshot name (policy key and slot).
 * CreateSnapshot takes no token, so a retry looks for it first. */
#define EC2_TAG_RUN "drover:run"

EC2_HIDDEN drover_code ec2_backup_list(void *state, const char *target,
                                       drover_snapshot_list *out, drover_error *err);
EC2_HIDDEN drover_code ec2_backup_create(void *state, const char *target, const char *snapshot,
                                         const char *label_key, const char *label_text,
                                         double deadline, int *existed, drover_error *err);
EC2_HIDDEN drover_code ec2_backup_delete(void *state, const char *target, const char *snapshot,
                                         double deadline, drover_error *err);
/* The snapshots of target taken by run (a backup's snapshot name; NULL:
 * every run), completed or not, over every page. */
EC2_HIDDEN drover_code ec2_backup_find(ec2_state *st, const char *target, const char *run,
                                       drover_live_list *out, drover_error *err);
/* Deletes every snapshot the policy (stack, address) made, whatever its
 * target (a policy removed with on_delete "delete"). */
EC2_HIDDEN drover_code ec2_backup_delete_policy(ec2_state *st, const char *stack,
                                                const char *address, drover_error *err);

/* --------------------------------------------------------------------------
 * Restores (ec2_restore.c): snapshot_restore and snapshot_clone on EBS
 */

/* The tag a restore puts on the volume it makes: "<old volume> <snapshot>
 * <instance> <device>" ("-" for none), read back as the volume's attribute
 * "restore" (ec2_parse_volumes), so a re-run after a kill finishes the
 * restore instead of starting a second one. */
#define EC2_TAG_RESTORE "drover:restore"
/* The old volume's ID, alone: what a re-run looks the new volume up by. */
#define EC2_TAG_RESTORE_FROM "drover:restore-from"

/* The CreateVolume of a restore (ec2_form_volume.c: pure, unit-tested):
 * from snapshot snap_id (the EBS ID of drover snapshot `snapshot`) in
 * old's zone with its type, size, labels, display name and user tags,
 * plus the two restore tags. */
EC2_HIDDEN void ec2_form_restore(ec2_form *f, const drover_live *old, const char *snap_id,
                                 const char *snapshot);
/* The CreateVolume of a verify drill's scratch copy of src: from snap_id
 * in src's zone with its type, ClientToken token, the labels (label ->
 * text; empty ones left out) as drover:<label> tags, and drover:name and
 * Name set to name. */
EC2_HIDDEN void ec2_form_clone(ec2_form *f, const drover_live *src, const char *snap_id,
                               const char *token, const json_t *labels, const char *name);

EC2_HIDDEN drover_code ec2_backup_restore(void *state, const char *target,
                                          const char *snapshot, double deadline,
                                          drover_error *err);
EC2_HIDDEN drover_code ec2_backup_clone(void *state, const char *target, const char *snapshot,
                                        const char *new_name, const json_t *labels,
                                        double deadline, drover_error *err);

/* aws.volume's calls (ec2_volume.c), shared with the restores. */
/* DescribeVolumes of id; NOT_FOUND when absent. *out owned by the caller. */
EC2_HIDDEN drover_code ec2_volume_read(ec2_state *st, const char *id, const char *address,
                                       drover_live **out, drover_error *err);
/* Every volume (over every page) with tag key = value and, when key2 is
 * not NULL, key2 = value2, appended to out. */
EC2_HIDDEN drover_code ec2_volume_find(ec2_state *st, const char *key, const char *value,
                                       const char *key2, const char *value2,
                                       drover_live_list *out, drover_error *err);
/* Describes id every poll_interval until its status is want ("available",
 * "in-use"; NULL: gone) with an attachment in state attach (NULL: any), or
 * deadline; a volume in state "error" fails at once. NotFound right after
 * a create is eventual consistency. */
EC2_HIDDEN drover_code ec2_volume_wait(ec2_state *st, const char *id, const char *want,
                                       const char *attach, double deadline,
                                       const char *address, drover_error *err);
/* AttachVolume, then waits until attached. */
EC2_HIDDEN drover_code ec2_volume_attach(ec2_state *st, const char *id, const char *inst,
                                         const char *dev, double deadline,
                                         const char *address, drover_error *err);
/* DeleteVolume of an unattached (or failed) volume, then waits until it
 * is gone; one gone already is success. */
EC2_HIDDEN drover_code ec2_volume_delete(ec2_state *st, const char *id, double deadline,
                                         const char *address, drover_error *err);
/* DetachVolume (one already detached is the goal), then waits until
 * available. */
EC2_HIDDEN drover_code ec2_volume_detach(ec2_state *st, const char *id, double deadline,
                                         const char *address, drover_error *err);

#endif
