#include "sweep.h"
const struct sweep_scenario sweep_io_scenarios[] = {};
const size_t sweep_io_count = 0;
