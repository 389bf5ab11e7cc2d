/*
 * asyncio's "TCP echo client using streams" (Doc/library/asyncio-stream.rst):
 *
 *     async def tcp_echo_client(message):
 *         reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
 *         print(f'Send: {message!r}')
 *         writer.write(message.encode())
 *         data = await reader.read(100)
 *         print(f'Received: {data.decode()!r}')
 *         print('Close the connection')
 *         writer.close()
 *
 *     asyncio.run(tcp_echo_client('Hello World!'))
 *
 *   tcp_echo_client [PORT [MESSAGE]]    (8888, "Hello World!")
 *
 * Run tcp_echo_server first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringo.h>

struct args {
	int port;
	const char *message;
};

/* Python's repr() of a str (as tcp_echo_server.c). */
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

static int tcp_echo_client(void *arg, void **result)
{
	struct args *a = arg;
	ringo_stream *s;
	int err = ringo_stream_connect("127.0.0.1", a->port, RINGO_FOREVER, NULL, &s);
	if (err < 0)
		return err;
	printf("Send: ");
	print_repr(a->message, strlen(a->message));
	printf("\n");
	ringo_stream_write(s, a->message, strlen(a->message));
	char data[100];
	int n = ringo_stream_read(s, data, sizeof(data));
	if (n >= 0) {
		printf("Received: ");
		print_repr(data, (size_t)n);
		printf("\n");
	}
	printf("Close the connection\n");
	ringo_stream_close(s);
	ringo_stream_wait_closed(s);
	ringo_stream_free(s);
	return n < 0 ? n : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct args a = {argc > 1 ? atoi(argv[1]) : 8888, argc > 2 ? argv[2] : "Hello World!"};
	int err = ringo_run(tcp_echo_client, &a, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "tcp_echo_client: %s\n", ringo_strerror(err));
		return 1;
	}
	return 0;
}
