#include "sweep.h"
const struct sweep_scenario sweep_net_scenarios[] = {};
const size_t sweep_net_count = 0;
