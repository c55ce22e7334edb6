/* plan_render.c - placeholder; being written. */
#include "engine.h"
