/* Streams (include/ringo/stream.h) on real sockets and pipes: the asyncio
 * StreamReader/StreamWriter rules, the byte-keeping rule under
 * cancellation and timeouts, backpressure both ways, close/free, the
 * transports (one-shot, multishot, pipes). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "support.h"
#include "stream_internal.h"

/* Run every test with each receive transport in turn. */
static unsigned recv_flags = RINGO_STREAM_RECV_ONESHOT;

static ringo_stream *stream_on(int fd, const ringo_stream_options *base)
{
	ringo_stream_options o = {0};
	if (base)
		o = *base;
	o.flags |= recv_flags;
	ringo_stream *s = NULL;
	assert_int_equal(ringo_stream_new(ringo_loop_current() ? ringo_loop_current() : fx_loop,
					  fd, &o, &s),
			 0);
	return s;
}

/* A stream on one end of a socket pair; *peer is the other end (a plain
 * fd the test drives with send/recv). */
static ringo_stream *stream_pair(int *peer, const ringo_stream_options *o)
{
	int sv[2];
	fx_socketpair(sv);
	*peer = sv[1];
	return stream_on(sv[0], o);
}

static void expect_buffered(const ringo_stream *s, const char *bytes, size_t n)
{
	size_t len;
	const void *p = ringo_stream_peek(s, &len);
	assert_int_equal(len, n);
	if (n)
		assert_memory_equal(p, bytes, n);
}

/* ---- reads ---- */

static int read_basics_body(void *arg, void **result)
{
	int peer;
	ringo_stream *s = stream_pair(&peer, NULL);
	assert_int_equal(send(peer, "hello world\nrest", 16, 0), 16);
	char buf[64];
	int n = ringo_stream_readline(s, buf, sizeof(buf));
	assert_int_equal(n, 12);
	assert_memory_equal(buf, "hello world\n", 12);
	/* read: what is there, up to n */
	assert_int_equal(ringo_stream_read(s, buf, 2), 2);
	assert_memory_equal(buf, "re", 2);
	assert_int_equal(ringo_stream_read(s, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "st", 2);
	assert_int_equal(ringo_stream_read(s, buf, 0), 0);
	/* read_exactly waits for all of it */
	assert_int_equal(send(peer, "abc", 3, 0), 3);
	assert_int_equal(send(peer, "defg", 4, 0), 4);
	assert_int_equal(ringo_stream_read_exactly(s, buf, 6), 6);
	assert_memory_equal(buf, "abcdef", 6);
	expect_buffered(s, "g", 1);
	/* read_until with a two-byte delimiter across receives */
	assert_int_equal(send(peer, "head\r", 5, 0), 5);
	assert_int_equal(send(peer, "\nbody", 5, 0), 5);
	n = ringo_stream_read_until(s, "\r\n", 2, buf, sizeof(buf));
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "ghead\r\n", 7);
	expect_buffered(s, "body", 4);
	/* EOF: the rest, then 0 */
	shutdown(peer, SHUT_WR);
	assert_false(ringo_stream_at_eof(s));
	assert_int_equal(ringo_stream_read_exactly(s, buf, 10), -ENODATA);
	expect_buffered(s, "body", 4); /* nothing consumed */
	assert_int_equal(ringo_stream_readline(s, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "body", 4);
	assert_true(ringo_stream_at_eof(s));
	assert_int_equal(ringo_stream_read(s, buf, sizeof(buf)), 0);
	assert_int_equal(ringo_stream_readline(s, buf, sizeof(buf)), 0);
	assert_int_equal(ringo_stream_read_until(s, "\n", 1, buf, sizeof(buf)), -ENODATA);
	assert_int_equal(ringo_stream_fill(s), 0);
	ringo_stream_free(s);
	close(peer);
	return 0;
}

static void test_read_readline_read_exactly_read_until_and_eof(void **state)
{
	assert_int_equal(fx_run_task(read_basics_body, NULL), 0);
}

/* ---- writes ---- */

static int write_basics_body(void *arg, void **result)
{
	int peer;
	ringo_stream *s = stream_pair(&peer, NULL);
	assert_int_equal(ringo_stream_write(s, "GET / ", 6), 0);
	struct iovec iov[2] = {{"HTTP/1.1", 8}, {"\r\n", 2}};
	assert_int_equal(ringo_stream_writev(s, iov, 2), 0);
	assert_int_equal(ringo_stream_write_buffered(s), 16);
	assert_int_equal(ringo_stream_drain(s), 0); /* under write_high: at once */
	char buf[32];
	/* The writes of one iteration went out together. */
	ringo_sleep(0);
	ringo_sleep(0);
	assert_int_equal(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), 16);
	assert_memory_equal(buf, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(ringo_stream_write_buffered(s), 0);
	struct ringo_stream_stats st;
	ringo_stream_stats(s, &st);
	assert_int_equal(st.bytes_written, 16);
	ringo_stream_free(s);
	close(peer);
	return 0;
}

static void test_writes_go_out_in_order_in_the_background(void **state)
{
	assert_int_equal(fx_run_task(write_basics_body, NULL), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_readline_read_exactly_read_until_and_eof, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_writes_go_out_in_order_in_the_background, fx_setup, fx_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	recv_flags = RINGO_STREAM_RECV_MULTISHOT;
	rc |= cmocka_run_group_tests_name("stream_multishot", tests, NULL, NULL);
	return rc;
}
