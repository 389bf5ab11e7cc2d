/* SIGINT/SIGTERM set an event, from a callback on the loop (ringo_signal_add
 * runs it with call_soon). The event is static: a signal that comes late,
 * while the server shuts down, finds it in place. A loop that ends before
 * stop_signals_wait (an error) restores the dispositions when it closes. */
#include <signal.h>

#include "ringo.h"
#include "stop_signals.h"

static ringo_event stop_event;
static const int stop_sigs[] = {SIGINT, SIGTERM};

static void on_stop_signal(void *arg)
{
	ringo_event_set(arg);
}

int stop_signals_catch(void)
{
	ringo_loop *loop = ringo_loop_current();
	ringo_event_init(&stop_event);
	for (int i = 0; i < 2; i++) {
		int err = ringo_signal_add(loop, stop_sigs[i], on_stop_signal, &stop_event);
		if (err < 0)
			return err;
	}
	return 0;
}

void stop_signals_wait(void)
{
	ringo_event_wait(&stop_event);
	for (int i = 0; i < 2; i++)
		ringo_signal_remove(ringo_loop_current(), stop_sigs[i]);
}
