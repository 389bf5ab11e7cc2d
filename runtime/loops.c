#include "thread_internal.h"
void ringo__msg_dispatch(ringo_loop *loop, uint64_t user_data, int32_t res) {}
