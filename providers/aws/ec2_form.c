/* ec2_form.c - EC2 Query request bodies: form encoding, tags and the
 * RunInstances request. Pure (no I/O), so the unit tests check them
 * against the API Reference's examples. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "config.h"
#include "drover_sigv4.h"
#include "ec2.h"

static void put(ec2_form *f, const char *s, size_t n)
{
  if(f->oom)
    return;
  if(f->len + n + 1 > f->cap) {
    size_t cap = f->cap ? f->cap : 256;
    char *g;
    while(cap < f->len + n + 1)
      cap *= 2;
    g = realloc(f->buf, cap);
    if(!g) {
      f->oom = 1;
      return;
    }
    f->buf = g;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, s, n);
  f->len += n;
  f->buf[f->len] = '\0';
}

void ec2_form_init(ec2_form *f, const char *action)
{
  memset(f, 0, sizeof(*f));
  f->action = action;
  ec2_form_add(f, "Action", action);
  ec2_form_add(f, "Version", EC2_API_VERSION);
}

void ec2_form_add(ec2_form *f, const char *key, const char *value)
{
  char *k = drover_sigv4_uri_encode(key, strlen(key), 0);
  char *v = drover_sigv4_uri_encode(value ? value : "", value ? strlen(value) : 0, 0);

  if(!k || !v)
    f->oom = 1;
  else {
    if(f->len)
      put(f, "&", 1);
    put(f, k, strlen(k));
    put(f, "=", 1);
    put(f, v, strlen(v));
  }
  free(k);
  free(v);
}

void ec2_form_addf(ec2_form *f, const char *value, const char *keyfmt, ...)
{
  char key[256];
  va_list ap;

  va_start(ap, keyfmt);
  vsnprintf(key, sizeof(key), keyfmt, ap);
  va_end(ap);
  ec2_form_add(f, key, value);
}

int ec2_form_done(const ec2_form *f)
{
  return f->oom || !f->buf ? -1 : 0;
}

void ec2_form_free(ec2_form *f)
{
  free(f->buf);
  memset(f, 0, sizeof(*f));
}

static void tag(ec2_form *f, const char *prefix, unsigned *n, const char *key,
                const char *value)
{
  ++*n;
  ec2_form_addf(f, key, "%sTag.%u.Key", prefix, *n);
  ec2_form_addf(f, value, "%sTag.%u.Value", prefix, *n);
}

void ec2_form_tags(ec2_form *f, const char *prefix, unsigned *n, const drover_res_req *req,
                   const json_t *tags, int display_name)
{
  const char *k;
  const json_t *v;

  tag(f, prefix, n, EC2_TAG_PREFIX DROVER_LABEL_STACK, req->stack);
  tag(f, prefix, n, EC2_TAG_PREFIX DROVER_LABEL_ADDRESS, req->address);
  if(req->hash && *req->hash)
    tag(f, prefix, n, EC2_TAG_PREFIX DROVER_LABEL_HASH, req->hash);
  if(req->deps && *req->deps)
    tag(f, prefix, n, EC2_TAG_PREFIX DROVER_LABEL_DEPS, req->deps);
  if(req->sensitive && *req->sensitive)
    tag(f, prefix, n, EC2_TAG_PREFIX DROVER_LABEL_SENSITIVE, req->sensitive);
  tag(f, prefix, n, EC2_TAG_PREFIX DROVER_LABEL_VERSION, PACKAGE_VERSION);
  if(display_name && req->name) {
    tag(f, prefix, n, EC2_TAG_NAME, req->name);
    if(!json_object_get(tags, "Name"))
      tag(f, prefix, n, "Name", req->name);
  }
  json_object_foreach((json_t *)tags, k, v)
    if(json_is_string(v))
      tag(f, prefix, n, k, json_string_value(v));
}

void ec2_form_stack_filter(ec2_form *f, unsigned n, const char *stack)
{
  ec2_form_addf(f, stack ? "tag:" EC2_TAG_PREFIX DROVER_LABEL_STACK : "tag-key",
                "Filter.%u.Name", n);
  ec2_form_addf(f, stack ? stack : EC2_TAG_PREFIX DROVER_LABEL_STACK, "Filter.%u.Value.1", n);
}

/* Base64 of s for UserData. Caller frees; NULL on OOM. */
static char *base64(const char *s)
{
  size_t n = strlen(s);
  char *out = malloc(4 * ((n + 2) / 3) + 1);

  if(out)
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
  return out;
}

static const char *str_prop(const json_t *props, const char *name)
{
  const char *v = json_string_value(json_object_get(props, name));
  return v && *v ? v : NULL;
}

void ec2_form_run(ec2_form *f, const drover_res_req *req, const char *root_device)
{
  const json_t *p = req->properties;
  const json_t *groups = json_object_get(p, "security_groups");
  const json_t *size = json_object_get(p, "root_volume_size");
  const char *ud = str_prop(p, "user_data");
  unsigned i, n = 0;

  ec2_form_init(f, "RunInstances");
  ec2_form_add(f, "ImageId", str_prop(p, "image"));
  ec2_form_add(f, "InstanceType", str_prop(p, "instance_type"));
  ec2_form_add(f, "MinCount", "1");
  ec2_form_add(f, "MaxCount", "1");
  if(str_prop(p, "subnet"))
    ec2_form_add(f, "SubnetId", str_prop(p, "subnet"));
  if(str_prop(p, "key_name"))
    ec2_form_add(f, "KeyName", str_prop(p, "key_name"));
  for(i = 0; i < json_array_size(groups); i++)
    ec2_form_addf(f, json_string_value(json_array_get(groups, i)), "SecurityGroupId.%u",
                  i + 1);
  if(ud) {
    char *b = base64(ud);
    if(!b)
      f->oom = 1;
    else
      ec2_form_add(f, "UserData", b);
    free(b);
  }
  if(json_is_integer(size) && root_device) {
    char gib[32];
    snprintf(gib, sizeof(gib), "%lld", (long long)json_integer_value(size));
    ec2_form_add(f, "BlockDeviceMapping.1.DeviceName", root_device);
    ec2_form_add(f, "BlockDeviceMapping.1.Ebs.VolumeSize", gib);
    ec2_form_add(f, "BlockDeviceMapping.1.Ebs.DeleteOnTermination", "true");
  }
  if(req->idempotency_token && *req->idempotency_token)
    ec2_form_add(f, "ClientToken", req->idempotency_token);
  /* Nothing exists untagged, not even for a moment: the instance and its
   * volumes get the ownership tags in the request that makes them. */
  ec2_form_add(f, "TagSpecification.1.ResourceType", "instance");
  ec2_form_tags(f, "TagSpecification.1.", &n, req, json_object_get(p, "tags"), 1);
  ec2_form_add(f, "TagSpecification.2.ResourceType", "volume");
  n = 0;
  ec2_form_tags(f, "TagSpecification.2.", &n, req, NULL, 0);
  ++n;
  ec2_form_addf(f, EC2_TAG_ROOT, "TagSpecification.2.Tag.%u.Key", n);
  ec2_form_addf(f, "1", "TagSpecification.2.Tag.%u.Value", n);
}
