/* fixture.c - the engine suites' common fixture (see fixture.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixture.h"

void fx_setup(void)
{
  ck_assert_int_eq(fake_register(), 0);
  fake_reset();
}

void fx_setup_server_id(void)
{
  ck_assert_int_eq(fake_register(), 0);
  ck_assert_int_eq(fake_register_server_id(), 0);
  fake_reset();
}

/* Opens tpl with vars into *t and *s, recording into err. */
static void stack_open_at(drover_template **t, drover_stack **s, const char *tpl,
                          const char *const *vars, drover_error *err, const char *file,
                          int line)
{
  char buf[1200];
  drover_code rc = fake_stack_open(t, s, tpl, vars, NULL, err);

  ck_assert_msg(rc == DROVER_OK, "%s:%d: open: %s", file, line,
                drover_error_format(err, buf, sizeof(buf)));
}

void fx_stack_at(drover_template **tpl, drover_stack **stack, const char *text,
                 const char *file, int line)
{
  drover_error err;

  drover_error_clear(&err);
  stack_open_at(tpl, stack, text, NULL, &err, file, line);
}

void fx_open_at(fx *f, const char *tpl, const char *const *vars, const char *file, int line)
{
  drover_apply_opts ao = DROVER_APPLY_OPTS_INIT;

  memset(f, 0, sizeof(*f));
  f->ao = ao;
  f->ao.retry_base = 0.001;  /* retries without waiting */
  stack_open_at(&f->tpl, &f->stack, tpl, vars, &f->err, file, line);
}

void fx_plan_at(fx *f, unsigned flags, const char *file, int line)
{
  char buf[1200];
  drover_code rc;

  drover_plan_free(f->plan);
  f->plan = NULL;
  drover_error_clear(&f->err);
  rc = drover_stack_refresh(f->stack, &f->err);
  ck_assert_msg(rc == DROVER_OK, "%s:%d: refresh: %s", file, line,
                drover_error_format(&f->err, buf, sizeof(buf)));
  rc = drover_plan_new(&f->plan, f->stack, flags, &f->err);
  ck_assert_msg(rc == DROVER_OK, "%s:%d: plan: %s", file, line,
                drover_error_format(&f->err, buf, sizeof(buf)));
}

drover_code fx_apply(fx *f)
{
  drover_error_clear(&f->err);
  return drover_apply(f->plan, &f->ao, &f->res, &f->err);
}

void fx_apply_ok_at(fx *f, const char *file, int line)
{
  char buf[1200];
  drover_code rc = fx_apply(f);

  ck_assert_msg(rc == DROVER_OK, "%s:%d: apply: %s", file, line,
                drover_error_format(&f->err, buf, sizeof(buf)));
}

void fx_counts_at(const fx *f, drover_apply_result want, const char *file, int line)
{
  const drover_apply_result *r = &f->res;

  ck_assert_msg(r->created == want.created && r->updated == want.updated &&
                r->replaced == want.replaced && r->deleted == want.deleted &&
                r->failed == want.failed && r->skipped == want.skipped,
                "%s:%d: counts (created updated replaced deleted failed skipped) "
                "%zu %zu %zu %zu %zu %zu, expected %zu %zu %zu %zu %zu %zu", file, line,
                r->created, r->updated, r->replaced, r->deleted, r->failed, r->skipped,
                want.created, want.updated, want.replaced, want.deleted, want.failed,
                want.skipped);
}

void fx_close(fx *f)
{
  drover_plan_free(f->plan);
  fake_stack_close(f->tpl, f->stack);
  memset(f, 0, sizeof(*f));
}

void fx_converge_at(const char *tpl, const char *const *vars, const char *file, int line)
{
  fx f;

  fx_open_at(&f, tpl, vars, file, line);
  fx_plan_at(&f, 0, file, line);
  fx_apply_ok_at(&f, file, line);
  fx_close(&f);
}

void fx_converged_at(const char *tpl, const char *const *vars, const char *file, int line)
{
  fx f;

  fx_open_at(&f, tpl, vars, file, line);
  fx_plan_at(&f, 0, file, line);
  ck_assert_msg(drover_plan_changes(f.plan) == 0, "%s:%d: %zu changes left", file, line,
                drover_plan_changes(f.plan));
  fx_close(&f);
}

char *fx_render(const drover_plan *plan, int color)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);

  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(drover_plan_render(plan, m, color), DROVER_OK);
  ck_assert_int_eq(fclose(m), 0);
  return buf;
}

drover_code fx_op_init(void *state, const json_t *config, const drover_provider_env *env,
                       drover_error *err)
{
  (void)state; (void)config; (void)env; (void)err;
  return DROVER_OK;
}

void fx_op_cleanup(void *state)
{
  (void)state;
}

drover_code fx_op_create_unused(void *state, const drover_rtype *type,
                                const drover_res_req *req, drover_live **out,
                                drover_error *err)
{
  (void)state; (void)type; (void)req; (void)out;
  return drover_error_set(err, DROVER_E_INTERNAL, "not used");
}

drover_code fx_op_check_policy(const drover_rtype *type, const json_t *props, char *where,
                               size_t where_size, drover_error *err)
{
  if(!strcmp(type->name, "backup.policy"))
    return drover_backup_policy_check(props, where, where_size, err);
  return DROVER_OK;
}
