#include "internal.h"
void ringo__task_free(ringo_future *fut) { (void)fut; }
bool ringo__task_describe(struct ringo__work *w, char *buf, size_t len) { return false; }
bool ringo_task_cancel(ringo_task *t, const char *m) { return false; }
ringo_task *ringo_future_task(ringo_future *f) { return NULL; }
