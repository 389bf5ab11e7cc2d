/* The example servers as child processes, for test_servers.c and
 * test_http_server.c: started from $RINGO_BUILD/examples (under
 * $RINGO_TEST_WRAP, valgrind, when asked), stopped with SIGTERM, and
 * plain blocking clients to talk to them. */
#ifndef RINGO_TEST_SERVERS_H
#define RINGO_TEST_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Start $RINGO_BUILD/<name> args... PORT (args NULL-terminated, may be
 * NULL); wrap: under $RINGO_TEST_WRAP if set. Returns once it accepts
 * connections; fails the test if it never does. */
pid_t server_start(const char *name, const char *const *args, int port, bool wrap);
/* The same with args as the whole command line (PORT not appended): for
 * programs whose port is not their last argument. */
pid_t server_start_args(const char *name, const char *const *args, int port, bool wrap);
/* Wait for it to exit: its exit status, or 128 + the signal. */
int server_wait(pid_t pid);
/* SIGTERM it and wait (server_wait). */
int server_stop(pid_t pid);
/* Kill a server a failed test left running (call from teardown). */
void server_kill_leftover(void);
/* True when servers started with wrap run under valgrind. */
bool server_wrapped(void);
/* True in `make valgrind` (the test itself runs under valgrind). */
bool under_valgrind(void);
/* True if this suite was built with a sanitizer (so were the servers). */
bool built_with_sanitizer(void);

int free_port(void);
/* A port on 127.0.0.1 where a connect is refused for as long as *holder
 * stays open: a socket bound there that never listens keeps anyone else
 * (a later free_port(), a server) from taking it. Close *holder after. */
int refused_port(int *holder);
/* A blocking connection to 127.0.0.1:port; every receive gives up after
 * 10 s, which bounds each test. */
int connect_port(int port);
/* Read until the peer closes or 10 s pass; NUL-terminates; the count. */
size_t read_all(int fd, char *out, size_t cap);
/* Connect, send req, shut our side, collect the whole answer. */
size_t exchange(int port, const void *req, size_t len, char *out, size_t cap);
int count(const char *hay, const char *needle);
/* The number of open file descriptors of a process. */
int count_fds(pid_t pid);

#endif
