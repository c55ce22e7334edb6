/* check_slurm_nodes.c - the `drover slurm` shell's input handling:
 * hostlists expanded by libslurm, Slurm's resume file (22.05 and later
 * keys), the config file's checks, per-node vars from Slurm's facts. No
 * slurmctld needed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "drover.h"
#include "slurm_nodes.h"

static char dir[] = "/tmp/check_slurm_nodes.XXXXXX";

static const char *write_file(const char *name, const char *text)
{
  static char path[512];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return path;
}

START_TEST(hostlist_expands)
{
  char **v = NULL, msg[256];
  size_t n;

  ck_assert_int_eq(sl_hostlist_expand(&v, "cloud[1-3,7],gpu-[08-09],x", msg, sizeof(msg)), 0);
  for(n = 0; v[n]; n++)
    ;
  ck_assert_uint_eq(n, 7);
  ck_assert_str_eq(v[0], "cloud1");
  ck_assert_str_eq(v[2], "cloud3");
  ck_assert_str_eq(v[3], "cloud7");
  ck_assert_str_eq(v[4], "gpu-08");
  ck_assert_str_eq(v[5], "gpu-09");
  ck_assert_str_eq(v[6], "x");
  drover_strv_free(v);
  ck_assert_int_eq(sl_hostlist_expand(&v, "n[1-200]", msg, sizeof(msg)), 0);
  for(n = 0; v[n]; n++)
    ;
  ck_assert_uint_eq(n, 200);
  ck_assert_str_eq(v[199], "n200");
  drover_strv_free(v);
  ck_assert_int_ne(sl_hostlist_expand(&v, "", msg, sizeof(msg)), 0);
  ck_assert_ptr_null(v);
}
END_TEST

START_TEST(resume_file_keys)
{
  char *h = NULL, msg[512];
  const char *p;

  /* Slurm 22.05 */
  p = write_file("r1.json", "{\"all_nodes\":\"cloud[1-2]\",\"jobs\":[{\"job_id\":7,"
                            "\"nodes\":\"cloud[1-2]\"}]}");
  ck_assert_int_eq(sl_resume_file_hosts(&h, p, msg, sizeof(msg)), 0);
  ck_assert_str_eq(h, "cloud[1-2]");
  free(h);
  /* 23.02 and later: all_nodes_resume wins */
  p = write_file("r2.json", "{\"all_nodes_resume\":\"c[3-4]\",\"all_nodes\":\"zzz\","
                            "\"jobs\":[]}");
  ck_assert_int_eq(sl_resume_file_hosts(&h, p, msg, sizeof(msg)), 0);
  ck_assert_str_eq(h, "c[3-4]");
  free(h);
  p = write_file("r3.json", "{\"jobs\":[]}");
  ck_assert_int_ne(sl_resume_file_hosts(&h, p, msg, sizeof(msg)), 0);
  ck_assert_ptr_nonnull(strstr(msg, "all_nodes"));
  p = write_file("r4.json", "{\"all_nodes\": ");
  ck_assert_int_ne(sl_resume_file_hosts(&h, p, msg, sizeof(msg)), 0);
  ck_assert_ptr_nonnull(strstr(msg, "r4.json:1:"));
}
END_TEST

START_TEST(conf_checks)
{
  sl_conf c;
  char msg[512];
  const char *p;

  p = write_file("c1.json", "{\"template\": \"/t.json\", \"rate\": 20, \"vars\": {\"image\": \"x\"}}");
  ck_assert_int_eq(sl_conf_load(&c, p, msg, sizeof(msg)), 0);
  ck_assert_str_eq(c.tpl, "/t.json");
  ck_assert(c.rate == 20);
  ck_assert_uint_eq(c.parallelism, 16);
  ck_assert(c.grace == 300);
  ck_assert_str_eq(c.address_output, "address");
  sl_conf_clear(&c);
  p = write_file("c2.json", "{\"template\": \"/t.json\", \"grase\": 1}");
  ck_assert_int_ne(sl_conf_load(&c, p, msg, sizeof(msg)), 0);
  ck_assert_ptr_nonnull(strstr(msg, "unknown key \"grase\""));
  p = write_file("c3.json", "{\"rate\": 1}");
  ck_assert_int_ne(sl_conf_load(&c, p, msg, sizeof(msg)), 0);
  ck_assert_ptr_nonnull(strstr(msg, "\"template\""));
  p = write_file("c4.json", "{\"template\": \"/t.json\", \"rate\": \"fast\"}");
  ck_assert_int_ne(sl_conf_load(&c, p, msg, sizeof(msg)), 0);
  ck_assert_ptr_nonnull(strstr(msg, "\"rate\" must be a number"));
  p = write_file("c5.json", "{\"template\": \"/t.json\",\n \"template\": \"/u\"}");
  ck_assert_int_ne(sl_conf_load(&c, p, msg, sizeof(msg)), 0);
  ck_assert_ptr_nonnull(strstr(msg, "c5.json:2:"));
}
END_TEST

/* Slurm's facts fill only the params the template declares. */
START_TEST(node_vars_from_facts)
{
  static const char *tpl_text =
    "{\"drover\": 1, \"stack\": \"n\", \"params\": {\"node\": {\"type\": \"string\"},"
    " \"slurmd_port\": {\"type\": \"integer\"}, \"image\": {\"type\": \"string\"}},"
    " \"resources\": {}}";
  drover_template *tpl = NULL;
  drover_error err;
  sl_conf c;
  sl_node f;
  drover_vars *v;
  char msg[512];

  drover_error_clear(&err);
  memset(&c, 0, sizeof(c));
  memset(&f, 0, sizeof(f));
  ck_assert_int_eq(drover_template_load_buffer(&tpl, tpl_text, strlen(tpl_text), "n.json",
                                               &err), 0);
  c.path = (char *)"conf";
  c.vars = json_pack("{s:s}", "image", "img");
  f.port = 17003;
  f.cpus = 4;
  v = sl_node_vars(tpl, &c, &f, msg, sizeof(msg));
  ck_assert_ptr_nonnull(v);
  /* Opening a stack proves the values bind: slurmd_port as an integer. */
  {
    drover_stack *st = NULL;
    drover_options o = DROVER_OPTIONS_INIT;
    ck_assert_int_eq(drover_vars_set(v, "node", "c3", &err), 0);
    o.stack_name = "node-c3";
    ck_assert_msg(drover_stack_open(&st, tpl, v, &o, &err) == 0, "%s", err.text);
    drover_stack_free(st);
  }
  drover_vars_free(v);
  json_decref(c.vars);
  drover_template_free(tpl);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("slurm_nodes");
  TCase *tc = tcase_create("core");
  SRunner *sr;
  int failed;
  char cmd[300];

  if(!mkdtemp(dir))
    return 99;
  tcase_add_test(tc, hostlist_expands);
  tcase_add_test(tc, resume_file_keys);
  tcase_add_test(tc, conf_checks);
  tcase_add_test(tc, node_vars_from_facts);
  suite_add_tcase(s, tc);
  drover_global_init();
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  drover_global_cleanup();
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if(system(cmd) != 0)
    failed++;
  return failed ? 1 : 0;
}
