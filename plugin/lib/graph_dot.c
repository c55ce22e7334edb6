/* graph_dot.c - placeholder; being written. */
#include "engine.h"
