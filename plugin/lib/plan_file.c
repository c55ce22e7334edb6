/* plan_file.c - placeholder; being written. */
#include "engine.h"
