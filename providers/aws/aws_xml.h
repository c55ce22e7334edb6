/*
 * aws_xml.h - XML answers of AWS-style APIs (S3 now, EC2 later), read with
 * libxml2. Shared by the AWS providers; the engine never includes it.
 *
 * Elements are matched by local name, whatever their namespace (S3 puts
 * everything in its 2006-03-01 namespace, MinIO and Ceph sometimes none).
 * libxml2 is loaded at the first parse (aws_xml_lib.h says why), and its
 * global init runs then, once; these are thread-safe on distinct
 * documents. Callers use only these functions, never libxml2's own: the
 * library's names are not linked in.
 */
#ifndef DROVER_AWS_XML_H
#define DROVER_AWS_XML_H

#include <stddef.h>
#include <libxml/tree.h>
#include "drover_provider.h"

/* Parses len bytes. No network, no DTD, no entity expansion beyond the
 * five predefined ones. On success *out is the document (caller frees with
 * aws_xml_free); on failure *out is NULL and err says "<what>: not XML ...".
 * DROVER_E_PROVIDER for a body that is not XML or when libxml2 cannot be
 * loaded, DROVER_E_NOMEM. */
drover_code aws_xml_parse(xmlDoc **out, const char *buf, size_t len, const char *what,
                          drover_error *err);

/* Frees a document of aws_xml_parse; NULL is a no-op. */
void aws_xml_free(xmlDoc *doc);

/* The root element if its local name is name (NULL: any), else NULL.
 * Borrowed from doc. */
xmlNode *aws_xml_root(xmlDoc *doc, const char *name);

/* The first element child of parent named name; NULL when none. Borrowed. */
xmlNode *aws_xml_child(const xmlNode *parent, const char *name);

/* The next element sibling with node's local name; NULL when none. Borrowed.
 * for(n = aws_xml_child(p, "Contents"); n; n = aws_xml_next(n)) ... */
xmlNode *aws_xml_next(const xmlNode *node);

/* The text of parent's child named name, entities decoded; NULL when the
 * child is absent (or on OOM). Caller frees with free(). */
char *aws_xml_text(const xmlNode *parent, const char *name);

/* Like aws_xml_text, into a caller's buffer; returns buf, or NULL when the
 * child is absent or its text does not fit. */
const char *aws_xml_text_buf(const xmlNode *parent, const char *name, char *buf,
                             size_t size);

/* An AWS error answer. S3 sends <Error><Code/><Message/><RequestId/>;
 * EC2 sends <Response><Errors><Error><Code/><Message/></Error></Errors>
 * <RequestID/></Response>. Other fields S3 may add (StringToSign,
 * CanonicalRequest, AWSAccessKeyId) are ignored on purpose: they carry
 * credential material and never reach an error text. */
typedef struct aws_error {
  char code[64];
  char message[512];
  char request_id[128];
} aws_error;

/* Fills *e from an error body; 1 when the body is such a document with a
 * Code, 0 otherwise (then *e is empty strings). */
int aws_error_parse(aws_error *e, const char *buf, size_t len);

/* The drover_code for an HTTP status and an error code: throttling, 5xx
 * and timeouts are TRANSIENT; NoSuch* and 404 NOT_FOUND; conflicts
 * CONFLICT; the rest PROVIDER. */
drover_code aws_error_class(long status, const aws_error *e);

/* Records an error from a failed request: "<what>: HTTP <status> <Code>:
 * <Message> (request id <id>)", or with the bare status when the body held
 * no error document. Returns the code it recorded. */
drover_code aws_error_set(drover_error *err, const char *what, long status, const char *body,
                          size_t len);

#endif
