/* aws_xml.c - libxml2 reading of AWS XML answers and error documents. */
#include <stdlib.h>
#include <string.h>
#include "aws_xml.h"
#include "aws_xml_lib.h"

drover_code aws_xml_parse(xmlDoc **out, const char *buf, size_t len, const char *what,
                          drover_error *err)
{
  const aws_xml_api *x;
  xmlDoc *doc;
  const xmlError *xe;
  drover_error why;

  *out = NULL;
  if(len > (size_t)INT32_MAX)
    return drover_error_set(err, DROVER_E_PROVIDER, "%s: XML answer too large", what);
  drover_error_clear(&why);
  x = aws_xml_lib(&why);
  if(!x)
    return drover_error_set(err, why.code, "%s: %s", what, why.text);
  /* NONET: never fetch anything a document names; no NOENT/DTDLOAD, so no
   * external entities (XXE) and no entity expansion bombs. */
  doc = x->read_memory(buf ? buf : "", (int)len, "answer.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                       XML_PARSE_NOBLANKS);
  if(!doc || !x->root(doc)) {
    xe = x->last_error();
    if(doc)
      x->free_doc(doc);
    if(xe && xe->code == XML_ERR_NO_MEMORY)
      return drover_error_set(err, DROVER_E_NOMEM, "%s: out of memory parsing XML", what);
    return drover_error_set(err, DROVER_E_PROVIDER, "%s: answer is not XML (line %d: %.80s)",
                            what, xe ? xe->line : 0,
                            xe && xe->message ? xe->message : "empty body");
  }
  *out = doc;
  return DROVER_OK;
}

void aws_xml_free(xmlDoc *doc)
{
  /* A document exists only if the library loaded, so this cannot fail. */
  if(doc)
    aws_xml_lib(NULL)->free_doc(doc);
}

static int named(const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && (!name || !strcmp((const char *)n->name, name));
}

xmlNode *aws_xml_root(xmlDoc *doc, const char *name)
{
  xmlNode *r = doc ? aws_xml_lib(NULL)->root(doc) : NULL;
  return r && named(r, name) ? r : NULL;
}

xmlNode *aws_xml_child(const xmlNode *parent, const char *name)
{
  xmlNode *n;

  if(!parent)
    return NULL;
  for(n = parent->children; n; n = n->next)
    if(named(n, name))
      return n;
  return NULL;
}

xmlNode *aws_xml_next(const xmlNode *node)
{
  xmlNode *n;

  if(!node)
    return NULL;
  for(n = node->next; n; n = n->next)
    if(named(n, (const char *)node->name))
      return n;
  return NULL;
}

/* Caller frees. */
char *aws_xml_text(const xmlNode *parent, const char *name)
{
  xmlNode *c = aws_xml_child(parent, name);
  const aws_xml_api *x;
  xmlChar *t;
  char *out;

  /* A node exists only if the library loaded. */
  if(!c)
    return NULL;
  x = aws_xml_lib(NULL);
  t = x->node_content(c);
  if(!t)
    return NULL;
  out = strdup((const char *)t);
  (*x->free)(t);
  return out;
}

const char *aws_xml_text_buf(const xmlNode *parent, const char *name, char *buf, size_t size)
{
  char *t = aws_xml_text(parent, name);
  size_t n;

  if(!t || !size)
    goto fail;
  n = strlen(t);
  if(n >= size)
    goto fail;
  memcpy(buf, t, n + 1);
  free(t);
  return buf;
fail:
  free(t);
  if(size)
    buf[0] = '\0';
  return NULL;
}

/* Copies text cut to fit, on one line. */
static void copy_line(char *dst, size_t size, const char *src)
{
  size_t i;

  for(i = 0; src && src[i] && i + 1 < size; i++)
    dst[i] = (src[i] == '\n' || src[i] == '\r' || src[i] == '\t') ? ' ' : src[i];
  dst[i] = '\0';
}

int aws_error_parse(aws_error *e, const char *buf, size_t len)
{
  xmlDoc *doc = NULL;
  xmlNode *root, *er;
  char *code = NULL, *msg = NULL, *rid = NULL;
  int found = 0;

  memset(e, 0, sizeof(*e));
  if(!buf || !len || aws_xml_parse(&doc, buf, len, "error", NULL))
    return 0;
  root = aws_xml_root(doc, NULL);
  if(named(root, "Error")) {
    er = root;
    rid = aws_xml_text(root, "RequestId");
  }
  else if(named(root, "Response") || named(root, "ErrorResponse")) {
    /* EC2: Response/Errors/Error; STS/IAM: ErrorResponse/Error. */
    er = aws_xml_child(root, "Errors");
    er = er ? aws_xml_child(er, "Error") : aws_xml_child(root, "Error");
    rid = aws_xml_text(root, "RequestID");
    if(!rid)
      rid = aws_xml_text(root, "RequestId");
  }
  else {
    er = NULL;
  }
  if(er) {
    code = aws_xml_text(er, "Code");
    msg = aws_xml_text(er, "Message");
  }
  if(code && *code) {
    copy_line(e->code, sizeof(e->code), code);
    copy_line(e->message, sizeof(e->message), msg);
    copy_line(e->request_id, sizeof(e->request_id), rid);
    found = 1;
  }
  free(code);
  free(msg);
  free(rid);
  aws_xml_free(doc);
  return found;
}

drover_code aws_error_class(long status, const aws_error *e)
{
  static const char *const transient[] = {
    "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
    "ThrottlingException", "RequestLimitExceeded", "RequestTimeTooSkewed", NULL};
  const char *c = e ? e->code : "";
  size_t i;

  for(i = 0; transient[i]; i++)
    if(!strcmp(c, transient[i]))
      return DROVER_E_TRANSIENT;
  if(status >= 500 || status == 429 || status == 408)
    return DROVER_E_TRANSIENT;
  if(!strncmp(c, "NoSuch", 6) || (status == 404 && !*c))
    return DROVER_E_NOT_FOUND;
  if(status == 404)
    return DROVER_E_NOT_FOUND;
  if(status == 409 || status == 412 || !strcmp(c, "OperationAborted"))
    return DROVER_E_CONFLICT;
  return DROVER_E_PROVIDER;
}

drover_code aws_error_set(drover_error *err, const char *what, long status, const char *body,
                          size_t len)
{
  aws_error e;
  drover_code code;

  if(!aws_error_parse(&e, body, len))
    return drover_error_set(err, aws_error_class(status, NULL), "%s: HTTP %ld", what, status);
  code = aws_error_class(status, &e);
  if(e.request_id[0])
    return drover_error_set(err, code, "%s: HTTP %ld %s: %s (request id %s)", what, status,
                            e.code, e.message[0] ? e.message : "no message", e.request_id);
  return drover_error_set(err, code, "%s: HTTP %ld %s: %s", what, status, e.code,
                          e.message[0] ? e.message : "no message");
}
