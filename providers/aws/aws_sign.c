/*
 * aws_sign.c - SigV4 from a transport's per-attempt hook into its headers
 * (see aws_sign.h).
 */
#include <string.h>
#include "aws_sign.h"

drover_code aws_sign_into(drover_http_headers *add, const drover_sigv4_request *req,
                          const drover_sigv4_params *p, drover_error *err)
{
  drover_sigv4_result res;
  drover_code rc;
  size_t i;

  memset(&res, 0, sizeof(res));
  rc = drover_sigv4_sign(&res, req, p, err);
  /* Each added header is "Name: value" as the signer formats it. */
  for(i = 0; !rc && i < res.nadd_headers; i++) {
    char *colon = strchr(res.add_headers[i], ':');
    *colon = '\0';
    rc = drover_http_headers_add(add, res.add_headers[i], colon + 2, err);
  }
  drover_sigv4_result_free(&res);
  return rc;
}
