/* vars.c - placeholder; being written. */
#include "engine.h"
