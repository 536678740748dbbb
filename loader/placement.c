/* placement.c — see topology.h and accel.h. */
#include "loader.h"
