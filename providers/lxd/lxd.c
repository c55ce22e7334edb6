/* lxd.c - placeholder */
#include "drover_provider.h"
