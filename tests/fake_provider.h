/*
 * fake_provider.h - an in-process cloud for the engine's unit tests.
 *
 * Provider "fake" with two types:
 *   fake.thing  name (string, force new), image (string, required, force
 *               new), size (integer, default 1), tags (string map,
 *               default {}), state (running|stopped, default "running"),
 *               note (string, never diffed); delete_order 1
 *   fake.group  name (force new), members (array, default []), config
 *               (string map, default {}), blob (string,
 *               DROVER_PROP_DIGEST); delete_order 0
 *
 * One process-wide store behind a mutex, so it is safe to call from
 * apply's worker threads and the test can inspect it afterwards. Objects
 * carry labels (stack, address, hash, deps) and an ETag ("e<N>", from a
 * counter bumped on every change). Every object also gets a server-owned
 * attribute "id" (unknown until created) for "known after apply" tests.
 *
 * Server-assigned IDs: provider "fakeid" (fake_register_server_id()) has
 * one type, fakeid.vm (image, size, tags, disks: an array of objects,
 * nics: a map of objects; DROVER_RTYPE_SERVER_ID and
 * DROVER_RTYPE_DELETE_MANY), in the same store. Its del_many deletes each
 * object as del() would, each with its own result and faults. Its create
 * ignores req->name and names the object "i-<n>"; a create carrying the
 * idempotency token of an earlier one returns that object (EC2's
 * ClientToken), unless tokens are switched off.
 *
 * Counts calls per op and type, records the order in which ops started
 * and finished, measures the highest number of concurrent calls, and
 * injects faults. Call fake_register() once (before threads) and
 * fake_reset() at the start of every test.
 *
 * It is as strict as LXD behind drover's LXD provider, so engine tests
 * test the engine: create of a taken name adopts the object only when it
 * carries this stack's labels for this address (else "already exists and
 * is not owned by this stack", DROVER_E_PROVIDER); delete of a group
 * whose name a thing's tags hold is refused ("in use"); a running thing
 * is stopped before its delete; delete of a missing object succeeds (the
 * provider's answer to LXD's 404); lists carry no ETags unless asked;
 * update with a stale If-Match is DROVER_E_CONFLICT; and faults can hit
 * any op before or after the store changes (a lost response).
 */
#ifndef DROVER_FAKE_PROVIDER_H
#define DROVER_FAKE_PROVIDER_H

#include <jansson.h>
#include "drover_provider.h"

typedef enum {
  FAKE_OP_LIST = 0,
  FAKE_OP_CREATE = 1,
  FAKE_OP_UPDATE = 2,
  FAKE_OP_DELETE = 3,
  FAKE_OP_READ = 4,
  FAKE_OP_INIT = 5,
  FAKE_OP_LOCK_READ = 6,    /* the lock ops (fake_lock.c) */
  FAKE_OP_LOCK_CREATE = 7,
  FAKE_OP_LOCK_WRITE = 8,
  FAKE_OP_LOCK_DELETE = 9,
  FAKE_OP_DELETE_MANY = 10, /* fakeid.vm's del_many calls (each object in
                               one also counts as a FAKE_OP_DELETE) */
  FAKE_OP_N = 11
} fake_op;

extern const drover_provider fake_provider;
extern const drover_rtype fake_thing_type;
extern const drover_rtype fake_group_type;

extern const drover_rtype fake_vm_type;

/* Registers "fake" with the engine (idempotent). Returns 0 on success. */
int fake_register(void);
/* Registers "fakeid" (fakeid.vm, server-assigned IDs). */
int fake_register_server_id(void);
/* The next n fakeid.vm creates make the object, then fail with
 * DROVER_E_TRANSIENT as if the response was lost. */
void fake_lose_create_responses(unsigned n);
/* fakeid.vm: whether a create with a known token returns the earlier
 * object (default on; reset by fake_reset). */
void fake_set_honour_tokens(int on);

/* Empties the store, counters, faults, the op log and the delay. */
void fake_reset(void);

/* Calls of op on type ("fake.thing"); type NULL counts every type. */
unsigned fake_calls(fake_op op, const char *type);

/* Highest number of create/update/delete/read calls in flight at once
 * since the last reset. */
unsigned fake_max_concurrent(void);

/* Whether listed objects carry ETags (default off, as LXD's lists carry
 * none; read/create/update results always carry one). */
void fake_set_list_etags(int on);

/* Every create/update/delete sleeps this long (outside the lock), so
 * concurrency and ordering become observable. */
void fake_set_delay(double seconds);

/* The next n calls of op whose address equals address (NULL: any call of
 * that op) fail with code (DROVER_E_TRANSIENT, DROVER_E_PROVIDER,
 * DROVER_E_TIMEOUT, ...) before touching the store. See fake_fail_at. */
void fake_fail(fake_op op, const char *address, unsigned n, drover_code code);

/* When an injected fault hits: before the store changes (nothing
 * happened), after it (the change is made but the answer is lost), or
 * midway through a two-step op (create: a thing exists, labelled, but
 * stopped; update: properties changed, power state not; delete: a
 * running thing stopped but not deleted). */
typedef enum {
  FAKE_FAULT_BEFORE = 0,
  FAKE_FAULT_AFTER = 1,
  FAKE_FAULT_MIDWAY = 2
} fake_when;

/* As fake_fail, at when. AFTER and MIDWAY apply to create, update and
 * delete (list, read and init change nothing). */
void fake_fail_at(fake_op op, const char *address, unsigned n, drover_code code,
                  fake_when when);

/* The next n create/update/delete calls of op on address (NULL: any)
 * change the store, then fail with code: a request carried out whose
 * reply was lost. Same as fake_fail_at(..., FAKE_FAULT_AFTER). */
void fake_fail_after(fake_op op, const char *address, unsigned n, drover_code code);

/* Every create/update/delete of address sleeps this much longer (on top
 * of fake_set_delay), so a dependency can be made slow. */
void fake_set_delay_for(const char *address, double seconds);

typedef enum {
  FAKE_STAT_DELETE_MISSING = 0,    /* deletes of objects already gone */
  FAKE_STAT_DELETE_REFUSED = 1,    /* deletes refused: group in use */
  FAKE_STAT_STOP_BEFORE_DELETE = 2 /* running things stopped by a delete */
} fake_stat_kind;

/* Counters since the last fake_reset(). */
unsigned fake_stat(fake_stat_kind kind);

/* init fails with code while set (0 clears). */
void fake_fail_init(drover_code code);

/* Puts an object into the store as if an earlier drover had created it.
 * props_json: JSON object text of its properties (name is added). Labels
 * may be NULL (unlabelled object). Returns 0 on success. */
int fake_seed(const char *type, const char *name, const char *stack,
              const char *address, const char *hash, const char *deps,
              const char *props_json);

/* Out-of-band change (drift): sets property prop to value_json (NULL
 * removes it) and bumps the ETag. Returns 0 when the object exists. */
int fake_mutate(const char *type, const char *name, const char *prop,
                const char *value_json);

/* Out-of-band label change; value NULL removes it. Bumps the ETag. */
int fake_set_label(const char *type, const char *name, const char *label,
                   const char *value);

/* Out-of-band removal. Returns 0 when it existed. */
int fake_remove(const char *type, const char *name);

/* Objects of type (NULL: all) whose stack label equals stack (NULL: any). */
size_t fake_count(const char *type, const char *stack);

/* Objects of type (NULL: any) whose address label equals address. */
size_t fake_count_address(const char *type, const char *address);

/* A copy of the stored object as
 * {"type","name","etag","labels":{..},"properties":{..}}, or NULL.
 * Caller json_decref()s. */
json_t *fake_get(const char *type, const char *name);

/* Position (0-based) in the op log of the first start (end = 0) or end
 * (end = 1) of op on the object labelled address; -1 if never. Only
 * create/update/delete calls that reached the store are logged. */
long fake_log_pos(fake_op op, const char *address, int end);

/* Entries in the op log. */
size_t fake_log_len(void);

/* The config the last successful init received (copy; json_decref), or
 * NULL. */
json_t *fake_last_config(void);

/* Zeroes the call counters, the concurrency high-water mark and the op
 * log, keeping the store. */
void fake_reset_counts(void);

/* ------------------------------------------------------------------------
 * The stack lease (fake_lock.c): one record per stack, in a store of its
 * own, versioned by a counter (ETag "l<N>", bumped on every write), with
 * the compare-and-swap rules of the lock ops: create of an existing
 * record, or write/delete with a stale version, is DROVER_E_CONFLICT.
 * fake_reset() empties it and switches the ops back on.
 */

/* The lock ops of "fake" and "fakeid" (the provider tables use them). */
drover_code fake_lock_read(void *state, const char *stack, json_t **record,
                           char **etag, drover_error *err);
drover_code fake_lock_create(void *state, const char *stack, const json_t *record,
                             char **etag, drover_error *err);
drover_code fake_lock_write(void *state, const char *stack, const json_t *record,
                            const char *if_match, char **etag, drover_error *err);
drover_code fake_lock_delete(void *state, const char *stack, const char *if_match,
                             drover_error *err);
void fake_lock_reset(void);
/* Off: lock_read answers DROVER_E_UNSUPPORTED (a cloud without leases). */
void fake_lock_set_enabled(int on);
/* Calls of a lock op since the last reset. */
unsigned fake_lock_calls(fake_op op);
/* The next n calls of lock op fail with code before touching the store. */
void fake_lock_fail(fake_op op, unsigned n, drover_code code);
/* A copy of the stack's record, or NULL (json_decref). */
json_t *fake_lock_get(const char *stack);
/* Out of band: sets the stack's record (JSON object text; NULL removes
 * it), bumping its version, as another host or an admin would. */
int fake_lock_put(const char *stack, const char *record_json);

/* ------------------------------------------------------------------------
 * Helpers for engine tests
 */

/* Loads json (a template text) with the NULL-terminated "k=v" vars and
 * opens a stack. stack_name may be NULL. Log lines go to stderr when
 * $DROVER_TEST_VERBOSE is set. On success *tpl and *stack are set (free
 * with fake_stack_close). */
drover_code fake_stack_open(drover_template **tpl, drover_stack **stack,
                            const char *json, const char *const *vars,
                            const char *stack_name, drover_error *err);
void fake_stack_close(drover_template *tpl, drover_stack *stack);

#endif /* DROVER_FAKE_PROVIDER_H */
