/*
 * aws_dispatch.h - from a resource type to a provider's own ops for it,
 * with the argument checks every op shares. Shared by the AWS-style
 * providers (s3, aws): each keeps one ops struct per type, listed in one
 * table, and its drover_provider ops call aws_dispatch() before the
 * type's. The engine never includes it.
 */
#ifndef DROVER_AWS_DISPATCH_H
#define DROVER_AWS_DISPATCH_H

#include "drover_provider.h"

typedef enum {
  AWS_OP_LIST, AWS_OP_CREATE, AWS_OP_UPDATE, AWS_OP_DELETE, AWS_OP_READ
} aws_op;

typedef struct aws_type_entry {
  const drover_rtype *type;
  const void *ops;             /* the provider's ops struct for type */
} aws_type_entry;

/* Finds type in table (ended by type NULL), sets *ops (borrowed from the
 * table) and checks what op needs: create a req with stack and address,
 * and a name unless the cloud assigns IDs (DROVER_RTYPE_SERVER_ID);
 * update a req and cur with a name; delete cur with a name. Errors read
 * "<source>: [<address>: ]..." located at source: DROVER_E_INTERNAL for
 * a type not in the table, DROVER_E_ARG for missing arguments. */
drover_code aws_dispatch(const char *source, const aws_type_entry *table,
                         const drover_rtype *type, aws_op op, const drover_res_req *req,
                         const drover_live *cur, const void **ops, drover_error *err);

#endif
