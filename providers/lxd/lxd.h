/* lxd.h - placeholder */
