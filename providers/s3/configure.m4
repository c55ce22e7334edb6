dnl providers/s3/configure.m4 - how the S3 provider is built:
dnl   --enable-s3=yes  compiled into libdrover (the default)
dnl   --enable-s3=dl   a loadable module, $(pkglibdir)/providers/s3.so
dnl   --enable-s3=no   not built
dnl It needs libxml2 (LIBXML2_CFLAGS/LIBS, checked by configure.ac) and
dnl libdrover's SigV4 signer.
AC_DEFUN([DROVER_PROVIDER_S3], [
  AC_ARG_ENABLE([s3],
    [AS_HELP_STRING([--enable-s3=yes|dl|no],
                    [build the S3 provider into libdrover (yes, default), as a loadable module (dl), or not at all])],
    [], [enable_s3=yes])
  AS_CASE([$enable_s3],
    [yes|dl|no], [],
    [AC_MSG_ERROR([--enable-s3 must be yes, dl or no, not "$enable_s3"])])
  AS_IF([test "x$enable_s3" = xyes],
        [AC_DEFINE([DROVER_WITH_S3], [1], [S3 provider compiled into libdrover])])
  AM_CONDITIONAL([S3_BUILTIN], [test "x$enable_s3" = xyes])
  AM_CONDITIONAL([S3_DL], [test "x$enable_s3" = xdl])
  drover_providers="$drover_providers s3=$enable_s3"
])
