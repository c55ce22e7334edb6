dnl providers/lxd/configure.m4 - how the LXD provider is built, in the
dnl manner of libfabric's prov/<name>/configure.m4:
dnl   --enable-lxd=yes  compiled into libdrover (the default)
dnl   --enable-lxd=dl   a loadable module, $(pkglibdir)/providers/lxd.so
dnl   --enable-lxd=no   not built
dnl The LXD provider needs nothing beyond libdrover's own libraries.
AC_DEFUN([DROVER_PROVIDER_LXD], [
  AC_ARG_ENABLE([lxd],
    [AS_HELP_STRING([--enable-lxd=yes|dl|no],
                    [build the LXD provider into libdrover (yes, default), as a loadable module (dl), or not at all])],
    [], [enable_lxd=yes])
  AS_CASE([$enable_lxd],
    [yes|dl|no], [],
    [AC_MSG_ERROR([--enable-lxd must be yes, dl or no, not "$enable_lxd"])])
  AS_IF([test "x$enable_lxd" = xyes],
        [AC_DEFINE([DROVER_WITH_LXD], [1], [LXD provider compiled into libdrover])])
  AM_CONDITIONAL([LXD_BUILTIN], [test "x$enable_lxd" = xyes])
  AM_CONDITIONAL([LXD_DL], [test "x$enable_lxd" = xdl])
  drover_providers="$drover_providers lxd=$enable_lxd"
])
