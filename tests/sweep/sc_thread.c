#include "sweep.h"
const struct sweep_scenario sweep_thread_scenarios[] = {};
const size_t sweep_thread_count = 0;
