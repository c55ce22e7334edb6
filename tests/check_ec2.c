/* check_ec2.c - the AWS provider's pure parts (providers/aws/ec2_form.c,
 * ec2_parse.c, the error classes) against fixtures written after the EC2
 * API Reference (tests/fixtures/aws/SOURCES.md names each page):
 * DescribeInstances (with unicode tags, a terminated instance, an empty
 * reservation set, two pages), RunInstances (request and answer),
 * DescribeVolumes, CreateVolume, DescribeSnapshots, and both error
 * shapes; the CreateVolume requests of a restore and a verify drill
 * (ec2_form_volume.c) and a volume carrying a restore's record. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include "ec2.h"
#include "run_suite.h"

/* The fixture's bytes; caller frees. */
static char *load(const char *name, size_t *len)
{
  const char *dir = getenv("DROVER_TEST_SRCDIR");
  char path[4096];
  FILE *f;
  char *buf = malloc(1 << 16);

  snprintf(path, sizeof(path), "%s/fixtures/aws/%s", dir ? dir : "tests", name);
  f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  ck_assert_ptr_nonnull(buf);
  *len = fread(buf, 1, (1 << 16) - 1, f);
  ck_assert_int_eq(feof(f), 1);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

static xmlDoc *load_doc(const char *name)
{
  size_t len;
  char *buf = load(name, &len);
  xmlDoc *doc = NULL;
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(aws_xml_parse(&doc, buf, len, name, &err), DROVER_OK);
  free(buf);
  return doc;
}

/* Instances of a DescribeInstances/RunInstances fixture. */
static void parse(const char *name, int keep_gone, drover_live_list *out, char **next)
{
  xmlDoc *doc = load_doc(name);
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(ec2_parse_instances(doc, keep_gone, out, next, &err), DROVER_OK);
  xmlFreeDoc(doc);
}

static const char *sprop(const drover_live *l, const char *name)
{
  return json_string_value(json_object_get(l->properties, name));
}

static const char *sattr(const drover_live *l, const char *name)
{
  return json_string_value(json_object_get(l->attributes, name));
}

START_TEST(describe_instances)
{
  drover_live_list list = {NULL, 0, 0};
  char *next = (char *)"unset";
  const drover_live *l;
  const json_t *tags, *groups;

  parse("ec2-describe-instances.xml", 0, &list, &next);
  /* The terminated instance is gone for drover. */
  ck_assert_uint_eq(list.count, 1);
  ck_assert_ptr_null(next);
  l = list.items[0];
  ck_assert_str_eq(l->name, "i-1234567890abcdef0");
  ck_assert_str_eq(l->stack, "web");
  ck_assert_str_eq(l->address, "node[0]");
  ck_assert_str_eq(l->hash, "0123456789abcdef");
  ck_assert_ptr_null(l->deps);
  ck_assert_str_eq(l->status, "running");
  ck_assert_str_eq(sprop(l, "image"), "ami-bff32ccc");
  ck_assert_str_eq(sprop(l, "instance_type"), "t2.micro");
  ck_assert_str_eq(sprop(l, "subnet"), "subnet-56f5f633");
  ck_assert_str_eq(sprop(l, "key_name"), "my_keypair");
  ck_assert_str_eq(sprop(l, "state"), "running");
  groups = json_object_get(l->properties, "security_groups");
  ck_assert_uint_eq(json_array_size(groups), 1);
  ck_assert_str_eq(json_string_value(json_array_get(groups, 0)), "sg-e4076980");
  /* The user's tags, unicode and entities decoded; drover's own are labels. */
  tags = json_object_get(l->properties, "tags");
  ck_assert_uint_eq(json_object_size(tags), 2);
  ck_assert_str_eq(json_string_value(json_object_get(tags, "Name")), "Server_1");
  ck_assert_str_eq(json_string_value(json_object_get(tags, "Équipe")), "計算 & données ✓");
  ck_assert_str_eq(sattr(l, "id"), "i-1234567890abcdef0");
  ck_assert_str_eq(sattr(l, "private_ip"), "192.168.1.88");
  ck_assert_str_eq(sattr(l, "public_ip"), "54.194.252.215");
  ck_assert_str_eq(sattr(l, "availability_zone"), "eu-west-1c");
  ck_assert_str_eq(sattr(l, "root_device"), "/dev/xvda");
  ck_assert_ptr_null(json_object_get(l->properties, "root_volume_size"));
  drover_live_list_clear(&list);

  /* Waiting for termination sees the terminated one too. */
  parse("ec2-describe-instances.xml", 1, &list, &next);
  ck_assert_uint_eq(list.count, 2);
  ck_assert_str_eq(list.items[1]->status, "terminated");
  drover_live_list_clear(&list);
}
END_TEST

START_TEST(empty_reservation_set)
{
  drover_live_list list = {NULL, 0, 0};
  char *next = (char *)"unset";

  parse("ec2-describe-instances-empty.xml", 0, &list, &next);
  ck_assert_uint_eq(list.count, 0);
  ck_assert_ptr_null(next);
}
END_TEST

START_TEST(pages)
{
  drover_live_list list = {NULL, 0, 0};
  char *next = NULL;

  parse("ec2-describe-instances-page1.xml", 0, &list, &next);
  ck_assert_uint_eq(list.count, 2);
  ck_assert_ptr_nonnull(next);
  ck_assert_str_eq(next, "eyJ2IjoiMiIsImMiOiJkZXhBIn0=");
  free(next);
  /* On their way: pending is running for the plan, stopping stopped. */
  ck_assert_str_eq(sprop(list.items[0], "state"), "running");
  ck_assert_str_eq(list.items[0]->status, "pending");
  ck_assert_str_eq(sprop(list.items[1], "state"), "stopped");
  /* Absent elements read as empty, not as missing properties. */
  ck_assert_str_eq(sprop(list.items[0], "subnet"), "");
  /* The last page has an empty nextToken: no more pages. */
  parse("ec2-describe-instances-page2.xml", 0, &list, &next);
  ck_assert_uint_eq(list.count, 3);
  ck_assert_str_eq(list.items[2]->address, "node[2]");
  ck_assert_ptr_null(next);
  drover_live_list_clear(&list);
}
END_TEST

START_TEST(run_instances_answer)
{
  drover_live_list list = {NULL, 0, 0};
  char *next = NULL;

  parse("ec2-run-instances.xml", 1, &list, &next);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.items[0]->name, "i-1234567890abcdef0");
  ck_assert_str_eq(list.items[0]->status, "pending");
  ck_assert_str_eq(list.items[0]->stack, "web");
  ck_assert_ptr_null(next);
  drover_live_list_clear(&list);
}
END_TEST

START_TEST(volume_sizes)
{
  xmlDoc *doc = load_doc("ec2-describe-volumes.xml");
  json_t *sizes = json_object();
  char *next = (char *)"unset";
  drover_error err;

  drover_error_clear(&err);
  ck_assert_int_eq(ec2_parse_volume_sizes(doc, sizes, &next, &err), DROVER_OK);
  ck_assert_ptr_null(next);
  /* Only attached volumes count; the key is instance and device. */
  ck_assert_uint_eq(json_object_size(sizes), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(sizes, "i-1234567890abcdef0\n/dev/xvda")),
                   80);
  json_decref(sizes);
  xmlFreeDoc(doc);
}
END_TEST

START_TEST(volumes)
{
  xmlDoc *doc = load_doc("ec2-describe-volumes.xml");
  drover_live_list list = {NULL, 0, 0};
  char *next = (char *)"unset";
  drover_error err;
  const drover_live *l;

  drover_error_clear(&err);
  ck_assert_int_eq(ec2_parse_volumes(doc, &list, &next, &err), DROVER_OK);
  ck_assert_ptr_null(next);
  ck_assert_uint_eq(list.count, 2);
  l = list.items[0];
  ck_assert_str_eq(l->name, "vol-1234567890abcdef0");
  ck_assert_str_eq(l->status, "in-use");
  ck_assert_int_eq(json_integer_value(json_object_get(l->properties, "size")), 80);
  ck_assert_str_eq(sprop(l, "type"), "standard");
  ck_assert_str_eq(sprop(l, "zone"), "us-east-1a");
  ck_assert_str_eq(sprop(l, "instance"), "i-1234567890abcdef0");
  ck_assert_str_eq(sprop(l, "device"), "/dev/xvda");
  ck_assert_str_eq(sattr(l, "attachment"), "attached");
  /* Unattached: empty instance and device, as the template's defaults. */
  ck_assert_str_eq(sprop(list.items[1], "instance"), "");
  ck_assert_str_eq(sprop(list.items[1], "device"), "");
  drover_live_list_clear(&list);
  xmlFreeDoc(doc);

  /* CreateVolume answers with the volume's fields at the top level. */
  doc = load_doc("ec2-create-volume.xml");
  ck_assert_int_eq(ec2_parse_volumes(doc, &list, &next, &err), DROVER_OK);
  ck_assert_uint_eq(list.count, 1);
  ck_assert_str_eq(list.items[0]->name, "vol-1234567890abcdef0");
  ck_assert_str_eq(list.items[0]->status, "creating");
  drover_live_list_clear(&list);
  xmlFreeDoc(doc);
}
END_TEST

START_TEST(snapshots)
{
  xmlDoc *doc = load_doc("ec2-describe-snapshots.xml");
  drover_live_list list = {NULL, 0, 0};
  char *next = NULL;
  drover_error err;
  const drover_live *l;
  const json_t *all;

  drover_error_clear(&err);
  ck_assert_int_eq(ec2_parse_snapshots(doc, &list, &next, &err), DROVER_OK);
  ck_assert_str_eq(next, "AAAAAQAAA");
  free(next);
  ck_assert_uint_eq(list.count, 1);
  l = list.items[0];
  ck_assert_str_eq(l->name, "snap-1234567890abcdef0");
  ck_assert_str_eq(l->status, "pending");
  ck_assert_str_eq(l->stack, "web");
  ck_assert_str_eq(l->address, "snap");
  ck_assert_str_eq(sprop(l, "volume"), "vol-1234567890abcdef0");
  ck_assert_str_eq(sprop(l, "description"), "Daily Backup ✓");
  ck_assert_uint_eq(json_object_size(json_object_get(l->properties, "tags")), 1);
  ck_assert_int_eq(json_integer_value(json_object_get(l->attributes, "created")), 1796004005);
  /* The run tag stays readable for the de-duplication check. */
  all = json_object_get(l->attributes, "all_tags");
  ck_assert_str_eq(json_string_value(json_object_get(all, "drover:run")),
                   "drover-0123456789abcdef");
  drover_live_list_clear(&list);
  xmlFreeDoc(doc);
}
END_TEST

/* A backup.policy record is a placement group (ec2_policy.c): the parser
 * keeps every tag, so the properties cut across drover:policy.N come
 * back whole. */
START_TEST(placement_groups)
{
  xmlDoc *doc = load_doc("ec2-describe-placement-groups.xml");
  drover_live_list list = {NULL, 0, 0};
  drover_error err;
  const json_t *all;
  const drover_live *l;

  drover_error_clear(&err);
  ck_assert_int_eq(ec2_parse_placement_groups(doc, &list, &err), DROVER_OK);
  ck_assert_uint_eq(list.count, 2);
  ck_assert_str_eq(list.items[0]->name, "XYZ-cluster");
  ck_assert_ptr_null(list.items[0]->stack);
  l = list.items[1];
  ck_assert_str_eq(l->name, "bk-nightly");
  ck_assert_str_eq(l->status, "available");
  ck_assert_str_eq(l->stack, "bk");
  ck_assert_str_eq(l->address, "nightly");
  ck_assert_str_eq(sattr(l, "group_id"), "pg-0fedcba987example");
  all = json_object_get(l->attributes, "all_tags");
  ck_assert_str_eq(json_string_value(json_object_get(all, "drover:kind")), "backup.policy");
  ck_assert_str_eq(json_string_value(json_object_get(all, "drover:policy.1")),
                   "ep\",\"schedule\":\"@daily ✓\"}");
  drover_live_list_clear(&list);
  xmlFreeDoc(doc);
}
END_TEST

/* --------------------------------------------------------------------------
 * Errors
 */

static const struct err_case {
  const char *fixture;
  long status;
  const char *code;
  drover_code want;
} err_cases[] = {
  {"ec2-error.xml", 400, "InvalidInstanceID.NotFound", DROVER_E_NOT_FOUND},
  {"ec2-error-throttle.xml", 503, "RequestLimitExceeded", DROVER_E_TRANSIENT},
  /* Throttling is throttling whatever the status a server sends it with. */
  {"ec2-error-throttle.xml", 400, "RequestLimitExceeded", DROVER_E_TRANSIENT},
  /* No retry brings capacity back: surfaced at once, even as a 500. */
  {"ec2-error-capacity.xml", 500, "InsufficientInstanceCapacity", DROVER_E_CAPACITY},
  {"ec2-error-unauthorized.xml", 403, "UnauthorizedOperation", DROVER_E_PROVIDER},
  {"ec2-error-response.xml", 400, "InvalidAction", DROVER_E_PROVIDER},
};

START_TEST(error_shapes)
{
  const struct err_case *c = &err_cases[_i];
  size_t len;
  char *body = load(c->fixture, &len);
  aws_error e;

  ck_assert_int_eq(aws_error_parse(&e, body, len), 1);
  ck_assert_str_eq(e.code, c->code);
  ck_assert_uint_gt(strlen(e.message), 10);
  ck_assert_uint_gt(strlen(e.request_id), 5);
  ck_assert_int_eq(ec2_error_class(c->status, &e), c->want);
  free(body);
}
END_TEST

START_TEST(error_without_document)
{
  ck_assert_int_eq(ec2_error_class(503, NULL), DROVER_E_TRANSIENT);
  ck_assert_int_eq(ec2_error_class(400, NULL), DROVER_E_PROVIDER);
}
END_TEST

/* --------------------------------------------------------------------------
 * Requests
 */

/* Splits a form body into an object key -> value (still encoded). */
static json_t *form_pairs(const char *body)
{
  json_t *o = json_object();
  char *copy = strdup(body), *save = NULL, *tok;

  ck_assert_ptr_nonnull(copy);
  copy[strcspn(copy, "\n")] = '\0';
  for(tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(tok, '=');
    ck_assert_ptr_nonnull(eq);
    *eq = '\0';
    ck_assert_msg(!json_object_get(o, tok), "%s twice", tok);
    json_object_set_new(o, tok, json_string(eq + 1));
  }
  free(copy);
  return o;
}

static const char *pair(const json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static drover_res_req run_req(json_t *props)
{
  drover_res_req r;

  memset(&r, 0, sizeof(r));
  r.stack = "web";
  r.address = "node[0]";
  r.name = "web-node-0";
  r.hash = "0123456789abcdef";
  r.deps = "";
  r.sensitive = "";
  r.properties = props;
  r.idempotency_token = "drover-0123456789abcdef";
  return r;
}

START_TEST(run_request_matches_reference)
{
  size_t len;
  char *want = load("ec2-run-instances-request.txt", &len);
  json_t *props = json_pack("{s:s, s:s, s:s, s:[s], s:s, s:{}}", "image", "ami-0abcdef1234567890",
                            "instance_type", "t2.micro", "key_name", "my-key-pair",
                            "security_groups", "sg-1a2b3c4d", "subnet", "subnet-6e7f829e",
                            "tags");
  drover_res_req r = run_req(props);
  json_t *w, *got;
  const char *k;
  json_t *v;
  ec2_form f;

  ec2_form_run(&f, &r, NULL);
  ck_assert_int_eq(ec2_form_done(&f), 0);
  got = form_pairs(f.buf);
  w = form_pairs(want);
  /* Every parameter of the Reference's example, with its value. */
  json_object_foreach(w, k, v)
    ck_assert_msg(json_equal(v, json_object_get(got, k)), "%s: want %s, got %s", k,
                  json_string_value(v), pair(got, k) ? pair(got, k) : "(absent)");
  /* And what drover adds: the version, the token, ownership tags on the
   * instance and its volumes, the display name. No user data, no block
   * device mapping when not asked for. */
  ck_assert_str_eq(pair(got, "Version"), "2016-11-15");
  ck_assert_str_eq(pair(got, "ClientToken"), "drover-0123456789abcdef");
  ck_assert_str_eq(pair(got, "TagSpecification.1.ResourceType"), "instance");
  ck_assert_str_eq(pair(got, "TagSpecification.1.Tag.1.Key"), "drover%3Astack");
  ck_assert_str_eq(pair(got, "TagSpecification.1.Tag.1.Value"), "web");
  ck_assert_str_eq(pair(got, "TagSpecification.1.Tag.2.Value"), "node%5B0%5D");
  ck_assert_str_eq(pair(got, "TagSpecification.2.ResourceType"), "volume");
  ck_assert_ptr_nonnull(pair(got, "TagSpecification.2.Tag.1.Key"));
  ck_assert_ptr_null(pair(got, "UserData"));
  ck_assert_ptr_null(pair(got, "BlockDeviceMapping.1.DeviceName"));
  {
    /* The Name tag is drover's display name; empty labels are left out. */
    int seen = 0, i;
    char key[64];
    for(i = 1; i < 20; i++) {
      snprintf(key, sizeof(key), "TagSpecification.1.Tag.%d.Key", i);
      ck_assert(!pair(got, key) || (strcmp(pair(got, key), "drover%3Adeps") &&
                                    strcmp(pair(got, key), "drover%3Asensitive")));
      if(pair(got, key) && !strcmp(pair(got, key), "Name")) {
        snprintf(key, sizeof(key), "TagSpecification.1.Tag.%d.Value", i);
        ck_assert_str_eq(pair(got, key), "web-node-0");
        seen = 1;
      }
    }
    ck_assert_int_eq(seen, 1);
  }
  json_decref(got);
  json_decref(w);
  json_decref(props);
  ec2_form_free(&f);
  free(want);
}
END_TEST

START_TEST(run_request_options)
{
  json_t *props = json_pack("{s:s, s:s, s:s, s:i, s:{s:s, s:s}}", "image", "ami-1",
                            "instance_type", "c5.large", "user_data", "#!/bin/sh\necho héllo\n",
                            "root_volume_size", 40, "tags", "Name", "mine", "Équipe", "計算 ✓");
  drover_res_req r = run_req(props);
  json_t *got;
  ec2_form f;
  int i, names = 0, unicode = 0;
  char key[64];

  ec2_form_run(&f, &r, "/dev/sda1");
  ck_assert_int_eq(ec2_form_done(&f), 0);
  got = form_pairs(f.buf);
  /* base64 of the bytes, then percent-encoded ('=' and '+' and '/'). */
  ck_assert_str_eq(pair(got, "UserData"), "IyEvYmluL3NoCmVjaG8gaMOpbGxvCg%3D%3D");
  ck_assert_str_eq(pair(got, "BlockDeviceMapping.1.DeviceName"), "%2Fdev%2Fsda1");
  ck_assert_str_eq(pair(got, "BlockDeviceMapping.1.Ebs.VolumeSize"), "40");
  ck_assert_ptr_null(pair(got, "SubnetId"));
  ck_assert_ptr_null(pair(got, "KeyName"));
  for(i = 1; i < 20; i++) {
    snprintf(key, sizeof(key), "TagSpecification.1.Tag.%d.Key", i);
    if(!pair(got, key))
      continue;
    names += !strcmp(pair(got, key), "Name");
    if(!strcmp(pair(got, key), "%C3%89quipe")) {
      snprintf(key, sizeof(key), "TagSpecification.1.Tag.%d.Value", i);
      ck_assert_str_eq(pair(got, key), "%E8%A8%88%E7%AE%97%20%E2%9C%93");
      unicode = 1;
    }
  }
  /* The template's own Name wins; drover does not add a second one. */
  ck_assert_int_eq(names, 1);
  ck_assert_int_eq(unicode, 1);
  json_decref(got);
  json_decref(props);
  ec2_form_free(&f);
}
END_TEST

START_TEST(form_encoding)
{
  ec2_form f;

  ec2_form_init(&f, "DescribeInstances");
  ec2_form_add(&f, "Filter.1.Name", "tag:drover:stack");
  ec2_form_add(&f, "Filter.1.Value.1", "a b&c=d/é~_.-");
  ck_assert_int_eq(ec2_form_done(&f), 0);
  ck_assert_str_eq(f.buf, "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name="
                          "tag%3Adrover%3Astack&Filter.1.Value.1=a%20b%26c%3Dd%2F%C3%A9~_.-");
  ec2_form_free(&f);
}
END_TEST

/* The tag Key = key among f's TagSpecification.1 tags: its (encoded)
 * value, or NULL. */
static const char *spec_tag(const json_t *got, const char *key)
{
  char k[64];
  int i;

  for(i = 1; i < 40; i++) {
    snprintf(k, sizeof(k), "TagSpecification.1.Tag.%d.Key", i);
    if(pair(got, k) && !strcmp(pair(got, k), key)) {
      snprintf(k, sizeof(k), "TagSpecification.1.Tag.%d.Value", i);
      return pair(got, k);
    }
  }
  return NULL;
}

/* A volume as listed (ec2_parse_volumes' shape): the one a restore replaces. */
static drover_live *old_volume(const char *instance, const char *device)
{
  drover_live *l = drover_live_new();

  ck_assert_ptr_nonnull(l);
  l->name = strdup("vol-1234567890abcdef0");
  l->stack = strdup("db");
  l->address = strdup("data");
  l->hash = strdup("0123456789abcdef");
  l->deps = strdup("");
  l->status = strdup("in-use");
  json_object_set_new(l->properties, "zone", json_string("us-east-1a"));
  json_object_set_new(l->properties, "size", json_integer(80));
  json_object_set_new(l->properties, "type", json_string("gp3"));
  json_object_set_new(l->properties, "instance", json_string(instance));
  json_object_set_new(l->properties, "device", json_string(device));
  json_object_set_new(l->properties, "tags", json_pack("{s:s}", "team", "db"));
  json_object_set_new(l->attributes, "name", json_string("db-data"));
  return l;
}

START_TEST(restore_request_matches_reference)
{
  size_t len;
  char *want = load("ec2-create-volume-snapshot-request.txt", &len);
  drover_live *old = old_volume("i-1234567890abcdef0", "/dev/sdf");
  json_t *w, *got, *v;
  const char *k;
  ec2_form f;

  ec2_form_restore(&f, old, "snap-1234567890abcdef0", "drover-abcd1234-20260401T1000Z");
  ck_assert_int_eq(ec2_form_done(&f), 0);
  got = form_pairs(f.buf);
  w = form_pairs(want);
  json_object_foreach(w, k, v)
    ck_assert_msg(json_equal(v, json_object_get(got, k)), "%s: want %s, got %s", k,
                  json_string_value(v), pair(got, k) ? pair(got, k) : "(absent)");
  /* The old volume's size and type, so the next plan shows no change; no
   * ClientToken (a re-run finds the volume by its tags instead). */
  ck_assert_str_eq(pair(got, "Size"), "80");
  ck_assert_str_eq(pair(got, "VolumeType"), "gp3");
  ck_assert_ptr_null(pair(got, "ClientToken"));
  ck_assert_str_eq(pair(got, "TagSpecification.1.ResourceType"), "volume");
  /* Every label and tag of the old volume, in the request that makes it. */
  ck_assert_str_eq(spec_tag(got, "drover%3Astack"), "db");
  ck_assert_str_eq(spec_tag(got, "drover%3Aaddress"), "data");
  ck_assert_str_eq(spec_tag(got, "drover%3Ahash"), "0123456789abcdef");
  ck_assert_ptr_null(spec_tag(got, "drover%3Adeps"));
  ck_assert_str_eq(spec_tag(got, "drover%3Aname"), "db-data");
  ck_assert_str_eq(spec_tag(got, "Name"), "db-data");
  ck_assert_str_eq(spec_tag(got, "team"), "db");
  /* And the restore's record. */
  ck_assert_str_eq(spec_tag(got, "drover%3Arestore-from"), "vol-1234567890abcdef0");
  ck_assert_str_eq(spec_tag(got, "drover%3Arestore"),
                   "vol-1234567890abcdef0%20drover-abcd1234-20260401T1000Z%20"
                   "i-1234567890abcdef0%20%2Fdev%2Fsdf");
  json_decref(got);
  ec2_form_free(&f);
  drover_live_free(old);

  /* A detached volume: "-" for the instance and the device. */
  old = old_volume("", "");
  ec2_form_restore(&f, old, "snap-1234567890abcdef0", "s1");
  ck_assert_int_eq(ec2_form_done(&f), 0);
  got = form_pairs(f.buf);
  ck_assert_str_eq(spec_tag(got, "drover%3Arestore"), "vol-1234567890abcdef0%20s1%20-%20-");
  json_decref(got);
  json_decref(w);
  ec2_form_free(&f);
  drover_live_free(old);
  free(want);
}
END_TEST

START_TEST(clone_request)
{
  drover_live *src = old_volume("i-1234567890abcdef0", "/dev/sdf");
  json_t *labels = json_pack("{s:s, s:s, s:s, s:s}", "stack", "db", "address",
                             "nightly.verify[0]", "hash", "", "deps", "");
  json_t *got;
  ec2_form f;

  ec2_form_clone(&f, src, "snap-1234567890abcdef0", "drover-00ff", labels,
                 "drover-verify-abcd1234-0");
  ck_assert_int_eq(ec2_form_done(&f), 0);
  got = form_pairs(f.buf);
  ck_assert_str_eq(pair(got, "Action"), "CreateVolume");
  ck_assert_str_eq(pair(got, "SnapshotId"), "snap-1234567890abcdef0");
  ck_assert_str_eq(pair(got, "AvailabilityZone"), "us-east-1a");
  ck_assert_str_eq(pair(got, "VolumeType"), "gp3");
  ck_assert_str_eq(pair(got, "ClientToken"), "drover-00ff");
  /* The snapshot's size: the drill proves the snapshot, as it is. */
  ck_assert_ptr_null(pair(got, "Size"));
  ck_assert_str_eq(spec_tag(got, "drover%3Astack"), "db");
  ck_assert_str_eq(spec_tag(got, "drover%3Aaddress"), "nightly.verify%5B0%5D");
  ck_assert_ptr_null(spec_tag(got, "drover%3Ahash"));
  ck_assert_ptr_null(spec_tag(got, "drover%3Adeps"));
  ck_assert_str_eq(spec_tag(got, "drover%3Aname"), "drover-verify-abcd1234-0");
  ck_assert_str_eq(spec_tag(got, "Name"), "drover-verify-abcd1234-0");
  /* Not the source's user tags: the copy is the policy's, not the volume's. */
  ck_assert_ptr_null(spec_tag(got, "team"));
  json_decref(got);
  json_decref(labels);
  ec2_form_free(&f);
  drover_live_free(src);
}
END_TEST

START_TEST(restored_volume_answer)
{
  xmlDoc *doc = load_doc("ec2-describe-volumes-restore.xml");
  drover_live_list list = {NULL, 0, 0};
  char *next = NULL;
  drover_error err;
  const drover_live *l;

  drover_error_clear(&err);
  ck_assert_int_eq(ec2_parse_volumes(doc, &list, &next, &err), DROVER_OK);
  ck_assert_uint_eq(list.count, 1);
  l = list.items[0];
  ck_assert_str_eq(l->address, "data");
  /* The record is an attribute; drover's tags are not the user's. */
  ck_assert_str_eq(sattr(l, "restore"), "vol-1234567890abcdef0 "
                   "drover-abcd1234-20260401T1000Z i-1234567890abcdef0 /dev/sdf");
  ck_assert_int_eq(json_object_size(json_object_get(l->properties, "tags")), 1);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(l->properties, "tags"),
                                                     "team")), "db");
  drover_live_list_clear(&list);
  xmlFreeDoc(doc);

  /* A volume without the record has no such attribute. */
  doc = load_doc("ec2-describe-volumes.xml");
  ck_assert_int_eq(ec2_parse_volumes(doc, &list, &next, &err), DROVER_OK);
  ck_assert_ptr_null(json_object_get(list.items[0]->attributes, "restore"));
  drover_live_list_clear(&list);
  xmlFreeDoc(doc);
}
END_TEST

static Suite *ec2_suite(void)
{
  Suite *s = suite_create("ec2");
  TCase *an = tcase_create("answers");
  TCase *er = tcase_create("errors");
  TCase *rq = tcase_create("requests");

  tcase_add_test(an, describe_instances);
  tcase_add_test(an, empty_reservation_set);
  tcase_add_test(an, pages);
  tcase_add_test(an, run_instances_answer);
  tcase_add_test(an, volume_sizes);
  tcase_add_test(an, volumes);
  tcase_add_test(an, snapshots);
  tcase_add_test(an, placement_groups);
  suite_add_tcase(s, an);
  tcase_add_loop_test(er, error_shapes, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
  tcase_add_test(er, error_without_document);
  suite_add_tcase(s, er);
  tcase_add_test(rq, run_request_matches_reference);
  tcase_add_test(rq, run_request_options);
  tcase_add_test(rq, form_encoding);
  tcase_add_test(rq, restore_request_matches_reference);
  tcase_add_test(rq, clone_request);
  tcase_add_test(an, restored_volume_answer);
  suite_add_tcase(s, rq);
  return s;
}

int main(void)
{
  xmlInitParser();
  return run_suite(ec2_suite());
}
