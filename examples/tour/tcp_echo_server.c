/*
 * asyncio's "TCP echo server using streams" (Doc/library/asyncio-stream.rst):
 *
 *     async def handle_echo(reader, writer):
 *         data = await reader.read(100)
 *         message = data.decode()
 *         addr = writer.get_extra_info('peername')
 *         print(f"Received {message!r} from {addr!r}")
 *         print(f"Send: {message!r}")
 *         writer.write(data)
 *         await writer.drain()
 *         print("Close the connection")
 *         writer.close()
 *
 *     async def main():
 *         server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
 *         addr = server.sockets[0].getsockname()
 *         print(f'Serving on {addr}')
 *         async with server:
 *             await server.serve_forever()
 *
 *     asyncio.run(main())
 *
 *   tcp_echo_server [PORT]     (8888 by default; 0 picks a free one)
 *
 * It prints what the Python program prints, addresses as Python's tuples,
 * and serves until SIGINT or SIGTERM (Python's KeyboardInterrupt). Run
 * tcp_echo_client beside it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <ringo.h>

/* Python's repr() of a str: quoted, with the usual escapes. */
static void print_repr(const char *p, size_t n)
{
	putchar('\'');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch == '\'' || ch == '\\')
			printf("\\%c", ch);
		else if (ch == '\n')
			printf("\\n");
		else if (ch == '\r')
			printf("\\r");
		else if (ch == '\t')
			printf("\\t");
		else if (ch < 0x20 || ch == 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('\'');
}

/* ('127.0.0.1', 8888), as Python shows an IPv4 address. */
static void print_addr(const struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	printf("('%s', %d)", ip, ntohs(a->sin_port));
}

static int handle_echo(ringo_stream *s, void *arg)
{
	char data[100];
	int n = ringo_stream_read(s, data, sizeof(data));
	if (n < 0)
		return n;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	getpeername(ringo_stream_fd(s), (struct sockaddr *)&peer, &len);
	printf("Received ");
	print_repr(data, (size_t)n);
	printf(" from ");
	print_addr(&peer);
	printf("\nSend: ");
	print_repr(data, (size_t)n);
	printf("\n");
	ringo_stream_write(s, data, (size_t)n);
	ringo_stream_drain(s);
	printf("Close the connection\n");
	return ringo_stream_close(s);
}

static int serve_forever(void *arg, void **result)
{
	int port = *(int *)arg;
	ringo_server *server;
	int err = ringo_server_start(ringo_loop_current(), "127.0.0.1", port, handle_echo, NULL,
				     NULL, &server);
	if (err < 0)
		return err;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ringo_server_port(server))};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
	printf("Serving on ");
	print_addr(&addr);
	printf("\n");
	/* `async with server:` closes it and waits for it on the way out. */
	err = ringo_server_serve_forever(server);
	ringo_server_close(server);
	ringo_server_wait_closed(server, RINGO_FOREVER);
	ringo_server_free(server);
	return err;
}

static int main_task(void *arg, void **result)
{
	/* serve_forever runs as its own task, so that a signal can cancel it
	 * (which closes the server, as asyncio does). */
	ringo_task *server_task;
	int err = ringo_spawn(ringo_loop_current(), serve_forever, arg, NULL, &server_task);
	if (err < 0)
		return err;
	sigset_t stopset;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGINT);
	sigaddset(&stopset, SIGTERM);
	ringo_signal_wait(&stopset);
	ringo_task_cancel(server_task, "KeyboardInterrupt");
	err = ringo_await(ringo_task_future(server_task), NULL);
	ringo_task_release(server_task);
	return err == -ECANCELED ? 0 : err;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int port = argc > 1 ? atoi(argv[1]) : 8888;
	int err = ringo_run(main_task, &port, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "tcp_echo_server: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
