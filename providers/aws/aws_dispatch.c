/* aws_dispatch.c - the type table lookup of the AWS-style providers. */
#include <stddef.h>
#include "aws_dispatch.h"

drover_code aws_dispatch(const char *source, const aws_type_entry *table,
                         const drover_rtype *type, aws_op op, const drover_res_req *req,
                         const drover_live *cur, const void **ops, drover_error *err)
{
  const char *address = req ? req->address : cur ? cur->address : NULL;
  size_t i;

  *ops = NULL;
  for(i = 0; type && table[i].type; i++)
    if(table[i].type == type)
      break;
  if(!type || !table[i].type)
    return drover_error_fail(err, DROVER_E_INTERNAL, source, address, "unknown resource type");
  switch(op) {
  case AWS_OP_CREATE:
    if(!req || !req->stack || !req->address ||
       (!(type->flags & DROVER_RTYPE_SERVER_ID) && !req->name))
      return drover_error_fail(err, DROVER_E_ARG, source, address,
                               "create needs the stack, the address and (unless the cloud "
                               "assigns IDs) the name");
    break;
  case AWS_OP_UPDATE:
    if(!req || !cur || !cur->name)
      return drover_error_fail(err, DROVER_E_ARG, source, address,
                               "update needs the current object");
    break;
  case AWS_OP_DELETE:
    if(!cur || !cur->name)
      return drover_error_fail(err, DROVER_E_ARG, source, address,
                               "delete needs the object's name");
    break;
  case AWS_OP_LIST:
  case AWS_OP_READ:
    break;
  }
  *ops = table[i].ops;
  return DROVER_OK;
}
