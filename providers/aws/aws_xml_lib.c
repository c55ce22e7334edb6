/* aws_xml_lib.c - libxml2, loaded at the first XML answer (aws_xml_lib.h
 * says why). */
#include "config.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include "aws_xml_lib.h"

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static aws_xml_api lib;
static int lib_ok;
static char lib_why[256];      /* why not, when !lib_ok */

static void *sym(void *h, const char *name)
{
  void *p = dlsym(h, name);

  if(!p && !lib_why[0])
    snprintf(lib_why, sizeof(lib_why), "%s has no %s", DROVER_LIBXML2_SONAME, name);
  return p;
}

static void load(void)
{
  void (*init_parser)(void);
  const char *de;
  void *h;

  /* RTLD_LOCAL: its names do not leak into later lookups. Never closed:
   * documents handed out point into it. */
  h = dlopen(DROVER_LIBXML2_SONAME, RTLD_NOW | RTLD_LOCAL);
  if(!h) {
    de = dlerror();
    snprintf(lib_why, sizeof(lib_why), "%s", de ? de : DROVER_LIBXML2_SONAME ": dlopen failed");
    return;
  }
  /* POSIX makes a dlsym result usable as a function pointer; ISO C has
   * no such conversion, so the stores go through (void **), as the dlsym
   * manual page shows. */
  *(void **)&init_parser = sym(h, "xmlInitParser");
  *(void **)&lib.read_memory = sym(h, "xmlReadMemory");
  *(void **)&lib.free_doc = sym(h, "xmlFreeDoc");
  *(void **)&lib.root = sym(h, "xmlDocGetRootElement");
  *(void **)&lib.node_content = sym(h, "xmlNodeGetContent");
  *(void **)&lib.last_error = sym(h, "xmlGetLastError");
  lib.free = sym(h, "xmlFree");
  if(lib_why[0])
    return;
  /* libxml2's global init, before any parse, from one thread only: the
   * other callers wait in pthread_once until it is done. */
  init_parser();
  lib_ok = 1;
}

const aws_xml_api *aws_xml_lib(drover_error *err)
{
  pthread_once(&lib_once, load);
  if(lib_ok)
    return &lib;
  if(err)
    drover_error_set(err, DROVER_E_PROVIDER, "cannot read XML answers: libxml2 did not load (%s)",
                     lib_why);
  return NULL;
}
