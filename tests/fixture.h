/*
 * fixture.h - the engine suites' common fixture: a template from a string
 * opened as a stack on the fake provider (fake_provider.h), refreshed and
 * planned, applied, and the apply's counts asserted.
 *
 * Every helper that asserts names its caller's file:line in the message,
 * since Check reports the line of the failed assertion, which is here.
 * Link with fixture.c and fake_provider.c; the suites run through
 * run_suite.h.
 */
#ifndef DROVER_TEST_FIXTURE_H
#define DROVER_TEST_FIXTURE_H

#include <check.h>
#include "engine.h"
#include "fake_provider.h"
#include "run_suite.h"

typedef struct fx {
  drover_template *tpl;
  drover_stack *stack;
  drover_plan *plan;          /* the last fx_plan's; freed by the next */
  drover_error err;           /* cleared before each step */
  drover_apply_opts ao;       /* DROVER_APPLY_OPTS_INIT, fast retries */
  drover_apply_result res;    /* the last apply's */
} fx;

/* Checked fixture: registers "fake" and empties its store. The _server_id
 * one also registers "fakeid" (fakeid.vm). */
void fx_setup(void);
void fx_setup_server_id(void);

/* Loads tpl (template text) with the NULL-terminated "k=v" vars and opens
 * the stack; asserts success. Release with fx_close. */
#define fx_open(f, tpl, vars) fx_open_at((f), (tpl), (vars), __FILE__, __LINE__)
/* Loads text (a template, no vars) into *tpl and opens it as *stack;
 * asserts success. Release with drover_stack_free, drover_template_free. */
#define fx_stack(tpl, stack, text) fx_stack_at((tpl), (stack), (text), __FILE__, __LINE__)
/* Refreshes the stack and plans with flags (DROVER_PLAN_*); asserts
 * success. */
#define fx_plan(f, flags) fx_plan_at((f), (flags), __FILE__, __LINE__)
/* Applies the plan and asserts DROVER_OK. */
#define fx_apply_ok(f) fx_apply_ok_at((f), __FILE__, __LINE__)
/* Asserts all six counts of the last apply; the counts not named are 0:
 * fx_counts(&f, .created = 4, .failed = 1). Name at least one (C11). */
#define fx_counts(f, ...) \
  fx_counts_at((f), (drover_apply_result){__VA_ARGS__}, __FILE__, __LINE__)
/* Opens tpl with vars, plans, applies and closes: a populated cloud. */
#define fx_converge(tpl, vars) fx_converge_at((tpl), (vars), __FILE__, __LINE__)
/* A fresh stack of tpl plans no change: the cloud is what tpl says. */
#define fx_converged(tpl, vars) fx_converged_at((tpl), (vars), __FILE__, __LINE__)

/* Applies the plan; the code is the caller's to assert (ignoring it is a
 * build error, so a failed apply cannot pass unseen). */
__attribute__((warn_unused_result)) drover_code fx_apply(fx *f);
/* Frees the plan and the stack; f may be reused by fx_open. */
void fx_close(fx *f);

/* The plan as drover_plan_render writes it (color: with ANSI colours);
 * caller frees. */
char *fx_render(const drover_plan *plan, int color);

/* Ops for a suite's own in-memory provider, where it needs nothing of
 * them: init and cleanup keep no state; create is never reached (an
 * internal error if it is); check passes a backup.policy's properties to
 * drover_backup_policy_check and accepts any other type's. */
drover_code fx_op_init(void *state, const json_t *config, const drover_provider_env *env,
                       drover_error *err);
void fx_op_cleanup(void *state);
drover_code fx_op_create_unused(void *state, const drover_rtype *type,
                                const drover_res_req *req, drover_live **out,
                                drover_error *err);
drover_code fx_op_check_policy(const drover_rtype *type, const json_t *props, char *where,
                               size_t where_size, drover_error *err);

void fx_stack_at(drover_template **tpl, drover_stack **stack, const char *text,
                 const char *file, int line);
void fx_open_at(fx *f, const char *tpl, const char *const *vars, const char *file, int line);
void fx_plan_at(fx *f, unsigned flags, const char *file, int line);
void fx_apply_ok_at(fx *f, const char *file, int line);
void fx_counts_at(const fx *f, drover_apply_result want, const char *file, int line);
void fx_converge_at(const char *tpl, const char *const *vars, const char *file, int line);
void fx_converged_at(const char *tpl, const char *const *vars, const char *file, int line);

#endif /* DROVER_TEST_FIXTURE_H */
