/*
 * aws_xml_lib.h - libxml2, loaded at the first XML answer (internal to
 * aws_xml.c).
 *
 * libdrover does not link libxml2: on Debian it pulls in ICU and the C++
 * runtime, 2.5-3 ms of every process's start here (bench/README.md,
 * "Fifteenth S3 session"), and most drover processes never read XML (every
 * LXD stack, the SPANK prolog's too; an S3 upload or download that
 * succeeds). The few
 * functions aws_xml.c calls are looked up once, by the soname configure
 * found, and the library stays loaded for the life of the process.
 */
#ifndef DROVER_AWS_XML_LIB_H
#define DROVER_AWS_XML_LIB_H

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include "drover_provider.h"

/* The types are the headers' own, so a prototype that changes between
 * libxml2 releases (xmlGetLastError's const, 2.12) still matches. Naming a
 * function inside __typeof__ does not reference its symbol. */
typedef struct aws_xml_api {
  __typeof__(&xmlReadMemory) read_memory;
  __typeof__(&xmlFreeDoc) free_doc;
  __typeof__(&xmlDocGetRootElement) root;
  __typeof__(&xmlNodeGetContent) node_content;
  __typeof__(&xmlGetLastError) last_error;
  xmlFreeFunc *free;           /* the library's xmlFree (a variable) */
} aws_xml_api;

/* The loaded library, after xmlInitParser() has run (once, whichever
 * thread comes first; the others wait). NULL when it cannot be loaded:
 * then err (if not NULL) says so, DROVER_E_PROVIDER, and every later call
 * fails the same way. Borrowed: never freed, never unloaded. */
const aws_xml_api *aws_xml_lib(drover_error *err);

#endif
