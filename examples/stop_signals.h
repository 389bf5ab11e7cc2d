/* examples/stop_signals.h: SIGINT and SIGTERM as an event a server's main
 * task waits for, shared by the example servers. */
#ifndef RINGO_EXAMPLES_STOP_SIGNALS_H
#define RINGO_EXAMPLES_STOP_SIGNALS_H

/* Catch SIGINT and SIGTERM on the current loop from now on. Call it before
 * the server listens: a client that sees the port open may signal at once.
 * Returns 0 or ringo_signal_add's -errno. */
int stop_signals_catch(void);

/* Suspend until SIGINT or SIGTERM has come (at any time since
 * stop_signals_catch), then give both back their previous disposition. */
void stop_signals_wait(void);

#endif
