/* check_spank.c - the SPANK plugin's input checks, without Slurm.
 *
 * Links plugin/spank/{options,config,outputs}.c directly: the parser of
 * the user's --drover value, the plugstack argument parser, the trusted
 * file checks (symlinks, owners, modes) and the outputs file, which the
 * prolog writes as root into a directory the job's user owns.
 * Files are made under the build directory (whose ancestors must not be
 * group/world writable, like a real template_dir); the owner required is
 * the test's own euid, so the suite also runs as non-root.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "../plugin/spank/spank_int.h"

static char errbuf[1024];

/* --------------------------------------------------------------------------
 * Names, keys, values
 */

START_TEST(names)
{
  char n33[40];
  memset(n33, 'a', 33);
  n33[33] = '\0';
  ck_assert(dvs_name_valid("quickstart"));
  ck_assert(dvs_name_valid("a"));
  ck_assert(dvs_name_valid("web_tier-2"));
  ck_assert(dvs_name_valid(n33 + 1)); /* 32 */
  ck_assert(!dvs_name_valid(n33));    /* 33 */
  ck_assert(!dvs_name_valid(""));
  ck_assert(!dvs_name_valid(NULL));
  ck_assert(!dvs_name_valid("../../etc/shadow"));
  ck_assert(!dvs_name_valid(".."));
  ck_assert(!dvs_name_valid("a/b"));
  ck_assert(!dvs_name_valid("a.json"));
  ck_assert(!dvs_name_valid("Quick"));
  ck_assert(!dvs_name_valid("a b"));
  ck_assert(!dvs_name_valid("a\x01"));
  ck_assert(!dvs_name_valid("caf\xc3\xa9"));
}
END_TEST

START_TEST(keys)
{
  char k[80];
  ck_assert(dvs_key_valid("replicas"));
  ck_assert(dvs_key_valid("_x9"));
  ck_assert(!dvs_key_valid("9a"));
  ck_assert(!dvs_key_valid("Image"));
  ck_assert(!dvs_key_valid("a-b"));
  ck_assert(!dvs_key_valid(""));
  memset(k, 'k', 63);
  k[63] = '\0';
  ck_assert(dvs_key_valid(k));
  k[63] = 'k';
  k[64] = '\0';
  ck_assert(!dvs_key_valid(k));
}
END_TEST

START_TEST(values)
{
  char v[300];
  ck_assert_uint_eq(dvs_value_check("busybox"), 0);
  ck_assert_uint_eq(dvs_value_check("a.b_c-d+e:f/g@h%i=j"), 0);
  ck_assert_uint_eq(dvs_value_check(""), 0);
  ck_assert_uint_eq(dvs_value_check("a;b"), 2);
  ck_assert_uint_eq(dvs_value_check("$(id)"), 1);
  ck_assert_uint_eq(dvs_value_check("`id`"), 1);
  ck_assert_uint_eq(dvs_value_check("a b"), 2);
  ck_assert_uint_eq(dvs_value_check("a|b&c"), 2);
  ck_assert_uint_eq(dvs_value_check("x'y"), 2);
  ck_assert_uint_eq(dvs_value_check("x\"y"), 2);
  ck_assert_uint_eq(dvs_value_check("ok\n"), 3);
  ck_assert_uint_eq(dvs_value_check("\x7f"), 1);
  ck_assert_uint_eq(dvs_value_check("\xc3\xa9"), 1);
  ck_assert_uint_eq(dvs_value_check("a,b"), 2);
  memset(v, 'x', 256);
  v[256] = '\0';
  ck_assert_uint_eq(dvs_value_check(v), 0);
  v[256] = 'x';
  v[257] = '\0';
  ck_assert_uint_eq(dvs_value_check(v), DVS_VALUE_MAX + 1);
}
END_TEST

/* --------------------------------------------------------------------------
 * The whole request
 */

static int parse(dvs_request *r, const char *s)
{
  errbuf[0] = '\0';
  return dvs_request_parse(r, s, errbuf, sizeof(errbuf));
}

START_TEST(request_ok)
{
  dvs_request r;
  ck_assert_int_eq(parse(&r, "quickstart"), 0);
  ck_assert_str_eq(r.name, "quickstart");
  ck_assert_uint_eq(r.nparams, 0);
  ck_assert_int_eq(parse(&r, "quickstart:replicas=2,image=busybox,empty="), 0);
  ck_assert_uint_eq(r.nparams, 3);
  ck_assert_str_eq(r.params[0].key, "replicas");
  ck_assert_str_eq(r.params[0].value, "2");
  ck_assert_str_eq(r.params[1].key, "image");
  ck_assert_str_eq(r.params[1].value, "busybox");
  ck_assert_str_eq(r.params[2].value, "");
  ck_assert_int_eq(parse(&r, "q:url=http://127.0.0.1:80/x=y"), 0);
  ck_assert_str_eq(r.params[0].value, "http://127.0.0.1:80/x=y");
}
END_TEST

START_TEST(request_bad)
{
  dvs_request r;
  char big[5000], v[300];
  size_t i;

  ck_assert_int_eq(parse(&r, ""), -1);
  ck_assert(strstr(errbuf, "needs a template name"));
  ck_assert_int_eq(parse(&r, "../../etc/shadow"), -1);
  ck_assert(strstr(errbuf, "bad template name"));
  ck_assert_int_eq(parse(&r, "../../etc/shadow:a=b"), -1);
  ck_assert_int_eq(parse(&r, "/etc/passwd"), -1);
  ck_assert_int_eq(parse(&r, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -1);
  ck_assert(strstr(errbuf, "too long"));
  ck_assert_int_eq(parse(&r, "q:"), -1);
  ck_assert_int_eq(parse(&r, "q:a"), -1);
  ck_assert(strstr(errbuf, "not key=value"));
  ck_assert_int_eq(parse(&r, "q:=1"), -1);
  ck_assert_int_eq(parse(&r, "q:A=1"), -1);
  ck_assert_int_eq(parse(&r, "q:a=1,a=2"), -1);
  ck_assert(strstr(errbuf, "twice"));
  ck_assert_int_eq(parse(&r, "q:a=1,"), -1);
  ck_assert_int_eq(parse(&r, "q:a=1,,b=2"), -1);
  ck_assert_int_eq(parse(&r, "q:a=x;reboot"), -1);
  ck_assert(strstr(errbuf, "position 2"));
  ck_assert(strstr(errbuf, "\";\""));
  ck_assert_int_eq(parse(&r, "q:a=$(touch /tmp/pwned)"), -1);
  ck_assert_int_eq(parse(&r, "q:a=`id`"), -1);
  ck_assert_int_eq(parse(&r, "q:a=x y"), -1);
  ck_assert_int_eq(parse(&r, "q:a=x\ny"), -1);
  /* The message quotes a control byte escaped, never raw. */
  ck_assert(strstr(errbuf, "\\x0a"));
  ck_assert(!strchr(errbuf, '\n'));
  memset(v, 'x', sizeof(v));
  memcpy(v, "q:a=", 4);
  v[4 + 257] = '\0';
  ck_assert_int_eq(parse(&r, v), -1);
  ck_assert(strstr(errbuf, "257 bytes"));
  v[4 + 256] = '\0';
  ck_assert_int_eq(parse(&r, v), 0);
  /* 33 params */
  strcpy(big, "q:");
  for(i = 0; i < 33; i++)
    sprintf(big + strlen(big), "%sp%zu=1", i ? "," : "", i);
  ck_assert_int_eq(parse(&r, big), -1);
  ck_assert(strstr(errbuf, "more than 32"));
  /* 4097 bytes */
  memset(big, 'a', 4097);
  big[4097] = '\0';
  ck_assert_int_eq(parse(&r, big), -1);
  ck_assert(strstr(errbuf, "4096"));
}
END_TEST

START_TEST(stack_names)
{
  char a[DVS_STACK_MAX + 1], b[DVS_STACK_MAX + 1], small[8];
  uint32_t id = 0;

  ck_assert_int_eq(dvs_stack_name(a, sizeof(a), 123, "quickstart"), 0);
  ck_assert_str_eq(a, "job-123-quickstart");
  ck_assert_int_eq(dvs_stack_name(a, sizeof(a), 7, "web_tier"), 0);
  ck_assert_str_eq(a, "job-7-web-tier");
  ck_assert_int_eq(dvs_stack_name(a, sizeof(a), 4294967295u,
                                  "abcdefghijklmnopqrstuvwxyz012345"), 0);
  ck_assert_uint_eq(strlen(a), DVS_STACK_MAX);
  ck_assert(!strncmp(a, "job-4294967295-abcdefghijklmnop-", 32));
  ck_assert_int_eq(dvs_stack_name(b, sizeof(b), 4294967295u,
                                  "abcdefghijklmnopqrstuvwxyz012346"), 0);
  ck_assert_str_ne(a, b);
  ck_assert_int_eq(dvs_stack_name(b, sizeof(b), 4294967295u,
                                  "abcdefghijklmnopqrstuvwxyz012345"), 0);
  ck_assert_str_eq(a, b); /* deterministic: the epilog recomputes it */
  ck_assert_int_eq(dvs_stack_name(a, sizeof(a), 1, "../x"), -1);
  ck_assert_int_eq(dvs_stack_name(small, sizeof(small), 1, "x"), -1);

  ck_assert_int_eq(dvs_stack_jobid("job-12-x", &id), 0);
  ck_assert_uint_eq(id, 12);
  ck_assert_int_eq(dvs_stack_jobid("job-4294967295-a", &id), 0);
  ck_assert_uint_eq(id, 4294967295u);
  ck_assert_int_eq(dvs_stack_jobid("job-4294967296-a", &id), -1);
  ck_assert_int_eq(dvs_stack_jobid("job-12-", &id), -1);
  ck_assert_int_eq(dvs_stack_jobid("job-x-a", &id), -1);
  ck_assert_int_eq(dvs_stack_jobid("quickstart", &id), -1);
  ck_assert_int_eq(dvs_stack_jobid("job--a", &id), -1);
}
END_TEST

/* --------------------------------------------------------------------------
 * plugstack arguments
 */

START_TEST(config_args)
{
  dvs_config c;
  char *ok[] = {"template_dir=/etc/drover/templates/", "config=/etc/drover/lxd.json",
                "max_instances_per_job=4", "max_instances_per_user=10", "allow_keep=yes",
                "lock_dir=/run/drover/locks", "log_level=debug", "outputs_dir=/run/x",
                "epilog=skip", "apply_timeout=120", "lock_wait=5", "epilog_retries=2",
                "engine=/usr/lib/slurm/drover_spank_engine.so",
                "provider_dir=/usr/local/lib/drover/providers/"};
  const char *bad[] = {"template_dir=relative", "max_instances_per_job=-1",
                       "max_instances_per_job=abc", "max_instances_per_job=1e3",
                       "max_instances_per_job=", "allow_keep=maybe", "log_level=loud",
                       "epilog=later", "epilog_retries=0", "apply_timeout=-5",
                       "templatedir=/x", "template_dir", "MAX_INSTANCES_PER_JOB=1",
                       "engine=drover_spank_engine.so", "provider_dir=providers"};
  size_t i;

  dvs_config_init(&c);
  ck_assert_str_eq(c.outputs_dir, "/run/drover-jobs");
  ck_assert_int_eq(c.allow_keep, 0);
  ck_assert_int_eq(dvs_config_parse(&c, (int)(sizeof(ok) / sizeof(ok[0])), ok, errbuf,
                                     sizeof(errbuf)), 0);
  ck_assert_str_eq(c.template_dir, "/etc/drover/templates");
  ck_assert_str_eq(c.provider_config, "/etc/drover/lxd.json");
  ck_assert_int_eq(c.max_instances_per_job, 4);
  ck_assert_int_eq(c.max_instances_per_user, 10);
  ck_assert_int_eq(c.allow_keep, 1);
  ck_assert_int_eq(c.log_level, DROVER_LOG_DEBUG);
  ck_assert_int_eq(c.epilog, DVS_EPILOG_SKIP);
  ck_assert_uint_eq(c.epilog_retries, 2);
  ck_assert_str_eq(c.engine, "/usr/lib/slurm/drover_spank_engine.so");
  ck_assert_str_eq(c.provider_dir, "/usr/local/lib/drover/providers");
  for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *one[1];
    one[0] = (char *)bad[i];
    dvs_config_init(&c);
    errbuf[0] = '\0';
    ck_assert_msg(dvs_config_parse(&c, 1, one, errbuf, sizeof(errbuf)) == -1,
                  "accepted %s", bad[i]);
    ck_assert(strstr(errbuf, "drover:"));
  }
}
END_TEST

/* --------------------------------------------------------------------------
 * Trusted files
 */

static char base[1024];

static void mkbase(void)
{
  char cwd[900];
  ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
  snprintf(base, sizeof(base), "%s/check_spank.XXXXXX", cwd);
  ck_assert_ptr_nonnull(mkdtemp(base));
  chmod(base, 0755);
}

static void rmbase(void)
{
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
  ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *rel, const char *text, mode_t mode)
{
  char p[PATH_MAX];
  FILE *f;
  snprintf(p, sizeof(p), "%s/%s", base, rel);
  f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  ck_assert_int_eq(chmod(p, mode), 0);
}

START_TEST(trusted_dir)
{
  char p[PATH_MAX];
  int fd;

  mkbase();
  snprintf(p, sizeof(p), "%s/tpl", base);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  fd = dvs_open_trusted_dir(p, geteuid(), errbuf, sizeof(errbuf));
  ck_assert_msg(fd >= 0, "%s", errbuf);
  close(fd);
  /* Group/world writable. */
  chmod(p, 0775);
  ck_assert_int_eq(dvs_open_trusted_dir(p, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "writable"));
  chmod(p, 0755);
  /* A writable ancestor. */
  chmod(base, 0777);
  ck_assert_int_eq(dvs_open_trusted_dir(p, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "above"));
  /* A root-owned sticky ancestor (like /tmp) is accepted: nobody else can
   * rename or remove what root put in it. */
  if(geteuid() == 0) {
    chmod(base, 01777);
    fd = dvs_open_trusted_dir(p, geteuid(), errbuf, sizeof(errbuf));
    ck_assert_msg(fd >= 0, "%s", errbuf);
    close(fd);
  }
  chmod(base, 0755);
  /* Wrong owner. */
  ck_assert_int_eq(dvs_open_trusted_dir(p, geteuid() + 1, errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "owned by"));
  /* The directory itself a symlink. */
  snprintf(p, sizeof(p), "%s/link", base);
  ck_assert_int_eq(symlink("tpl", p), 0);
  ck_assert_int_eq(dvs_open_trusted_dir(p, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert_int_eq(dvs_open_trusted_dir("", 0, errbuf, sizeof(errbuf)), -1);
  ck_assert_int_eq(dvs_open_trusted_dir("/tmp", 0, errbuf, sizeof(errbuf)), -1);
  rmbase();
}
END_TEST

START_TEST(templates)
{
  char p[PATH_MAX], q[PATH_MAX];
  int dfd, fd;

  mkbase();
  snprintf(p, sizeof(p), "%s/tpl", base);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  put("tpl/good.json", "{}", 0644);
  put("tpl/groupw.json", "{}", 0664);
  put("secret.json", "{\"secret\": 1}", 0600);
  snprintf(q, sizeof(q), "%s/secret.json", base);
  snprintf(p, sizeof(p), "%s/tpl/escape.json", base);
  ck_assert_int_eq(symlink(q, p), 0);
  snprintf(p, sizeof(p), "%s/tpl/inside.json", base);
  ck_assert_int_eq(symlink("good.json", p), 0);
  snprintf(p, sizeof(p), "%s/tpl/adir.json", base);
  ck_assert_int_eq(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/tpl/fifo.json", base);
  ck_assert_int_eq(mkfifo(p, 0644), 0);
  snprintf(p, sizeof(p), "%s/tpl", base);
  dfd = dvs_open_trusted_dir(p, geteuid(), errbuf, sizeof(errbuf));
  ck_assert_int_ge(dfd, 0);

  fd = dvs_open_template(dfd, "good", geteuid(), errbuf, sizeof(errbuf));
  ck_assert_msg(fd >= 0, "%s", errbuf);
  close(fd);
  ck_assert_int_eq(dvs_open_template(dfd, "missing", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "no template named \"missing\""));
  /* Symlinks are refused even when they stay inside the directory. */
  ck_assert_int_eq(dvs_open_template(dfd, "escape", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "symlink"));
  ck_assert_int_eq(dvs_open_template(dfd, "inside", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert_int_eq(dvs_open_template(dfd, "groupw", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "writable"));
  ck_assert_int_eq(dvs_open_template(dfd, "adir", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert_int_eq(dvs_open_template(dfd, "fifo", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "regular"));
  ck_assert_int_eq(dvs_open_template(dfd, "good", geteuid() + 1, errbuf, sizeof(errbuf)), -1);
  /* The traversal never reaches openat. */
  ck_assert_int_eq(dvs_open_template(dfd, "../secret", geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "bad template name"));
  close(dfd);
  rmbase();
}
END_TEST

START_TEST(secret_file)
{
  char p[PATH_MAX], q[PATH_MAX], *text = NULL;
  size_t len = 0;
  int fd;

  mkbase();
  put("c600.json", "{\"lxd\": {}}", 0600);
  put("c400.json", "{}", 0400);
  put("c640.json", "{}", 0640);
  put("c604.json", "{}", 0604);
  snprintf(p, sizeof(p), "%s/c600.json", base);
  fd = dvs_open_secret_file(p, geteuid(), errbuf, sizeof(errbuf));
  ck_assert_msg(fd >= 0, "%s", errbuf);
  ck_assert_int_eq(dvs_read_fd(&text, &len, fd, 1024, errbuf, sizeof(errbuf)), 0);
  ck_assert_str_eq(text, "{\"lxd\": {}}");
  ck_assert_uint_eq(len, 11);
  free(text);
  close(fd);
  snprintf(p, sizeof(p), "%s/c400.json", base);
  fd = dvs_open_secret_file(p, geteuid(), errbuf, sizeof(errbuf));
  ck_assert_int_ge(fd, 0);
  /* Too big for the limit. */
  ck_assert_int_eq(dvs_read_fd(&text, &len, fd, 1, errbuf, sizeof(errbuf)), -1);
  ck_assert_ptr_null(text);
  close(fd);
  snprintf(p, sizeof(p), "%s/c640.json", base);
  ck_assert_int_eq(dvs_open_secret_file(p, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "0600"));
  snprintf(p, sizeof(p), "%s/c604.json", base);
  ck_assert_int_eq(dvs_open_secret_file(p, geteuid(), errbuf, sizeof(errbuf)), -1);
  snprintf(p, sizeof(p), "%s/c600.json", base);
  ck_assert_int_eq(dvs_open_secret_file(p, geteuid() + 1, errbuf, sizeof(errbuf)), -1);
  snprintf(q, sizeof(q), "%s/link.json", base);
  ck_assert_int_eq(symlink(p, q), 0);
  ck_assert_int_eq(dvs_open_secret_file(q, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "symlink"));
  rmbase();
}
END_TEST

/* The engine module drover.so dlopen()s as root: a regular file, the
 * owner's, not group/world writable, no symlink, trusted ancestors. */
START_TEST(trusted_file)
{
  char p[PATH_MAX], q[PATH_MAX];
  int fd;

  mkbase();
  put("engine.so", "x", 0755);
  put("gw.so", "x", 0775);
  put("ww.so", "x", 0757);
  snprintf(p, sizeof(p), "%s/engine.so", base);
  fd = dvs_open_trusted_file(p, geteuid(), errbuf, sizeof(errbuf));
  ck_assert_msg(fd >= 0, "%s", errbuf);
  close(fd);
  ck_assert_int_eq(dvs_open_trusted_file(p, geteuid() + 1, errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "owned by"));
  snprintf(q, sizeof(q), "%s/gw.so", base);
  ck_assert_int_eq(dvs_open_trusted_file(q, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "writable"));
  snprintf(q, sizeof(q), "%s/ww.so", base);
  ck_assert_int_eq(dvs_open_trusted_file(q, geteuid(), errbuf, sizeof(errbuf)), -1);
  snprintf(q, sizeof(q), "%s/link.so", base);
  ck_assert_int_eq(symlink(p, q), 0);
  ck_assert_int_eq(dvs_open_trusted_file(q, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "symlink"));
  ck_assert_int_eq(dvs_open_trusted_file(base, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "regular"));
  snprintf(q, sizeof(q), "%s/missing.so", base);
  ck_assert_int_eq(dvs_open_trusted_file(q, geteuid(), errbuf, sizeof(errbuf)), -1);
  /* A writable directory above it. */
  chmod(base, 0777);
  ck_assert_int_eq(dvs_open_trusted_file(p, geteuid(), errbuf, sizeof(errbuf)), -1);
  ck_assert(strstr(errbuf, "above"));
  chmod(base, 0755);
  rmbase();
}
END_TEST

/* --------------------------------------------------------------------------
 * Outputs
 */

START_TEST(env_names)
{
  char b[64];
  ck_assert_int_eq(dvs_output_env_name(b, sizeof(b), "names"), 0);
  ck_assert_str_eq(b, "DROVER_NAMES");
  ck_assert_int_eq(dvs_output_env_name(b, sizeof(b), "first-ip"), 0);
  ck_assert_str_eq(b, "DROVER_FIRST_IP");
  ck_assert_int_eq(dvs_output_env_name(b, sizeof(b), "a=b;c"), 0);
  ck_assert_str_eq(b, "DROVER_A_B_C");
  ck_assert_int_eq(dvs_output_env_name(b, sizeof(b), "outputs_file"), -1);
  ck_assert_int_eq(dvs_output_env_name(b, sizeof(b), ""), -1);
  ck_assert_int_eq(dvs_output_env_name(b, 10, "names"), -1);
}
END_TEST

static void value_is(const char *json, const char *want)
{
  json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
  char *s = NULL;
  ck_assert_ptr_nonnull(v);
  ck_assert_int_eq(dvs_output_env_value(&s, v), 0);
  ck_assert_str_eq(s, want);
  free(s);
  json_decref(v);
}

START_TEST(env_values)
{
  value_is("\"web-0\"", "web-0");
  value_is("[\"a\",\"b\",\"c\"]", "a b c");
  value_is("[\"a b\",\"c\"]", "[\"a b\",\"c\"]");
  value_is("[1,2]", "[1,2]");
  value_is("[]", "[]");
  value_is("3", "3");
  value_is("true", "true");
  value_is("{\"k\":\"v\"}", "{\"k\":\"v\"}");
}
END_TEST

START_TEST(job_files)
{
  char out[PATH_MAX], p[PATH_MAX], victim[PATH_MAX], *text = NULL;
  struct stat st;
  int fd;

  mkbase();
  snprintf(out, sizeof(out), "%s/jobs", base);
  snprintf(victim, sizeof(victim), "%s/victim", base);
  put("victim", "untouched", 0644);
  ck_assert_int_eq(dvs_job_file_write(out, 42, DVS_OUTPUTS_FILE, "{\"a\":1}", geteuid(),
                                      getegid(), errbuf, sizeof(errbuf)), 0);
  ck_assert_int_eq(dvs_job_file_path(p, sizeof(p), out, 42, NULL), 0);
  ck_assert_int_eq(lstat(p, &st), 0);
  ck_assert(S_ISDIR(st.st_mode));
  ck_assert_int_eq(st.st_mode & 07777, 0700);
  ck_assert_int_eq(dvs_job_file_path(p, sizeof(p), out, 42, DVS_OUTPUTS_FILE), 0);
  ck_assert_int_eq(lstat(p, &st), 0);
  ck_assert(S_ISREG(st.st_mode));
  ck_assert_int_eq(st.st_mode & 07777, 0600);
  ck_assert_uint_eq(st.st_uid, geteuid());

  /* The user owns the job directory: a planted symlink must be replaced,
   * not followed. */
  ck_assert_int_eq(unlink(p), 0);
  ck_assert_int_eq(symlink(victim, p), 0);
  ck_assert_int_eq(dvs_job_file_write(out, 42, DVS_OUTPUTS_FILE, "{\"b\":2}", geteuid(),
                                      getegid(), errbuf, sizeof(errbuf)), 0);
  ck_assert_int_eq(lstat(p, &st), 0);
  ck_assert(S_ISREG(st.st_mode));
  fd = open(victim, O_RDONLY);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(dvs_read_fd(&text, NULL, fd, 100, errbuf, sizeof(errbuf)), 0);
  ck_assert_str_eq(text, "untouched");
  free(text);
  close(fd);
  fd = open(p, O_RDONLY);
  ck_assert_int_eq(dvs_read_fd(&text, NULL, fd, 100, errbuf, sizeof(errbuf)), 0);
  ck_assert_str_eq(text, "{\"b\":2}");
  free(text);
  close(fd);

  /* Remove: files and links go, the target stays. */
  ck_assert_int_eq(dvs_job_file_path(p, sizeof(p), out, 42, "evil"), 0);
  ck_assert_int_eq(symlink(victim, p), 0);
  ck_assert_int_eq(dvs_job_dir_remove(out, 42, errbuf, sizeof(errbuf)), 0);
  ck_assert_int_eq(dvs_job_file_path(p, sizeof(p), out, 42, NULL), 0);
  ck_assert_int_eq(lstat(p, &st), -1);
  ck_assert_int_eq(lstat(victim, &st), 0);
  /* Missing is fine. */
  ck_assert_int_eq(dvs_job_dir_remove(out, 42, errbuf, sizeof(errbuf)), 0);
  /* A world-writable outputs_dir is refused. */
  ck_assert_int_eq(chmod(out, 0777), 0);
  ck_assert_int_eq(dvs_job_file_write(out, 43, DVS_ERROR_FILE, "x", geteuid(), getegid(),
                                      errbuf, sizeof(errbuf)), -1);
  rmbase();
}
END_TEST

START_TEST(count_instances)
{
  ck_assert_int_eq(dvs_count_instances_json(
                     "[{\"type\":\"lxd.instance\"},{\"type\":\"lxd.profile\"},"
                     "{\"type\":\"lxd.instance\"},{}]"), 2);
  ck_assert_int_eq(dvs_count_instances_json("[]"), 0);
  ck_assert_int_eq(dvs_count_instances_json("{}"), -1);
  ck_assert_int_eq(dvs_count_instances_json("nope"), -1);
}
END_TEST

static Suite *spank_suite(void)
{
  Suite *s = suite_create("spank");
  TCase *tc = tcase_create("input");
  tcase_add_test(tc, names);
  tcase_add_test(tc, keys);
  tcase_add_test(tc, values);
  tcase_add_test(tc, request_ok);
  tcase_add_test(tc, request_bad);
  tcase_add_test(tc, stack_names);
  tcase_add_test(tc, config_args);
  suite_add_tcase(s, tc);
  tc = tcase_create("files");
  tcase_add_test(tc, trusted_dir);
  tcase_add_test(tc, templates);
  tcase_add_test(tc, secret_file);
  tcase_add_test(tc, trusted_file);
  tcase_add_test(tc, job_files);
  suite_add_tcase(s, tc);
  tc = tcase_create("outputs");
  tcase_add_test(tc, env_names);
  tcase_add_test(tc, env_values);
  tcase_add_test(tc, count_instances);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr;
  int failed;

  sr = srunner_create(spank_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
