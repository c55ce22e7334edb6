dnl providers/aws/configure.m4 - how the AWS (EC2) provider is built:
dnl   --enable-aws=yes  compiled into libdrover (the default)
dnl   --enable-aws=dl   a loadable module, $(pkglibdir)/providers/aws.so
dnl   --enable-aws=no   not built
dnl It needs libxml2 (LIBXML2_CFLAGS/LIBS, checked by configure.ac),
dnl OpenSSL (base64) and libdrover's SigV4 signer.
AC_DEFUN([DROVER_PROVIDER_AWS], [
  AC_ARG_ENABLE([aws],
    [AS_HELP_STRING([--enable-aws=yes|dl|no],
                    [build the AWS EC2 provider into libdrover (yes, default), as a loadable module (dl), or not at all])],
    [], [enable_aws=yes])
  AS_CASE([$enable_aws],
    [yes|dl|no], [],
    [AC_MSG_ERROR([--enable-aws must be yes, dl or no, not "$enable_aws"])])
  AS_IF([test "x$enable_aws" = xyes],
        [AC_DEFINE([DROVER_WITH_AWS], [1], [AWS EC2 provider compiled into libdrover])])
  AM_CONDITIONAL([AWS_BUILTIN], [test "x$enable_aws" = xyes])
  AM_CONDITIONAL([AWS_DL], [test "x$enable_aws" = xdl])
  drover_providers="$drover_providers aws=$enable_aws"
])
