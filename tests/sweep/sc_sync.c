#include "sweep.h"
const struct sweep_scenario sweep_sync_scenarios[] = {};
const size_t sweep_sync_count = 0;
