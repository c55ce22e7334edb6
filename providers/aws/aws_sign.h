/*
 * aws_sign.h - a request signed with SigV4 from a transport's per-attempt
 * hook: the signature's headers go straight into the attempt's header
 * list. Shared by the AWS-style providers (s3, aws); the signer itself is
 * libdrover's (drover_sigv4.h). The engine never includes it.
 */
#ifndef DROVER_AWS_SIGN_H
#define DROVER_AWS_SIGN_H

#include "drover_provider.h"
#include "drover_sigv4.h"

/* Signs req with p and appends the headers the signature adds
 * (X-Amz-Date, the payload hash, a session token, Authorization) to add.
 * Nothing is kept: the signer's own result is freed before returning. */
drover_code aws_sign_into(drover_http_headers *add, const drover_sigv4_request *req,
                          const drover_sigv4_params *p, drover_error *err);

#endif
