/*
 * The TLS stream transport: a filter over a raw stream (see the seam in
 * stream_internal.h).
 *
 * Below, OpenSSL reads and writes the raw stream through a BIO of ours:
 * a read takes ciphertext out of the raw stream's read buffer (peek,
 * consume) and says "retry" when it is empty; a write appends to the raw
 * stream's write buffer, which sends it in the loop's next submission.
 * Neither ever blocks, and the raw stream keeps receiving in the
 * background (up to its backpressure mark) as any stream does.
 *
 * Above, the TLS stream's receive is a pump: whenever it is on and
 * ciphertext arrived (the raw stream's on_readable), SSL_read decrypts
 * straight into the TLS stream's read buffer (ringo__stream_recv_room),
 * record by record, until OpenSSL wants more ciphertext, the TLS stream
 * pauses (its own backpressure: it stops the receive), or the stream
 * ends. Its send encrypts at most one raw write_high of plaintext at a
 * time into the raw stream and reports it sent once the raw stream holds
 * no more than its high-water mark (else once it drained to its low one):
 * so drain on the TLS stream waits for the socket, and neither buffer
 * grows past its marks.
 *
 * Upcalls into the core (recv_end, sent, released) are deferred to a
 * pre-submit step: the core calls the transport from inside its own
 * bookkeeping (a stop from within recv_data, from free) and must not be
 * re-entered there.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "tls_internal.h"

#define SEND_CHUNK_MIN (16 * 1024) /* one full record at least */

static void defer_run(ringo_loop *loop, struct ringo__presubmit *p);

/* ---- the BIO over the raw stream ---- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_read(BIO *b, char *out, int len)
{
	struct tls_conn *tc = BIO_get_data(b);
	ringo_stream *raw = tc->raw;
	BIO_clear_retry_flags(b);
	size_t have;
	const void *p = ringo_stream_peek(raw, &have);
	if (have == 0) {
		if (raw->rerr) {
			tc->lower_err = raw->rerr;
			return -1;
		}
		if (raw->eof || raw->closing)
			return 0;
		BIO_set_retry_read(b);
		return -1;
	}
	size_t n = have < (size_t)len ? have : (size_t)len;
	memcpy(out, p, n);
	ringo_stream_consume(raw, n);
	return (int)n;
}

static int bio_write(BIO *b, const char *in, int len)
{
	struct tls_conn *tc = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	int err = ringo_stream_write(tc->raw, in, (size_t)len);
	if (err < 0) {
		tc->lower_err = err;
		return -1;
	}
	return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH: /* the raw stream flushes by itself */
		return 1;
	case BIO_CTRL_PUSH:
	case BIO_CTRL_POP:
		return 0;
	default:
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void bio_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringo stream");
	if (!m)
		return;
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_ctrl(m, bio_ctrl);
	BIO_meth_set_create(m, bio_create);
	bio_method = m;
}

BIO *ringo__tls_bio_new(struct tls_conn *tc)
{
	pthread_once(&bio_once, bio_method_init);
	if (!bio_method)
		return NULL;
	BIO *b = BIO_new(bio_method);
	if (b)
		BIO_set_data(b, tc);
	return b;
}

/* ---- deferred upcalls ---- */

static void defer(struct tls_conn *tc)
{
	ringo__presubmit_add(tc->loop, &tc->defer);
}

static void end_recv(struct tls_conn *tc, int res)
{
	if (tc->end_pending)
		return;
	tc->end_pending = true;
	tc->end_res = res;
	defer(tc);
}

static void report_sent(struct tls_conn *tc, int res)
{
	tc->send_wait = false;
	tc->sent_pending = true;
	tc->sent_res = res;
	defer(tc);
}

/* recv_end and sent may destroy the TLS stream (and with it tc, through
 * release) when it was freed: recv_end goes first (the stream outlives it
 * while a send is in flight), and tc is not touched after the last one. */
static void defer_run(ringo_loop *loop, struct ringo__presubmit *p)
{
	struct tls_conn *tc = ringo__container_of(p, struct tls_conn, defer);
	ringo_stream *s = tc->tls;
	if (tc->released_pending) {
		tc->released_pending = false;
		ringo__stream_released(s); /* calls release: tc is gone */
		return;
	}
	bool end = tc->end_pending, sent = tc->sent_pending;
	int end_res = tc->end_res, sent_res = tc->sent_res;
	tc->end_pending = tc->sent_pending = false;
	if (end) {
		tc->recv_on = false;
		bool last = !sent && !s->sending;
		ringo__stream_recv_end(s, end_res);
		if (last)
			return;
	}
	if (sent) {
		tc->sending = 0;
		ringo__stream_sent(s, sent_res);
	}
}

/* ---- receiving ---- */

/* The peer's end without close_notify: the raw stream is at EOF with
 * nothing left, and OpenSSL says so (3.0: "unexpected eof while
 * reading"; SYSCALL from older ones). */
static bool ragged_eof(struct tls_conn *tc, int e)
{
	ringo_stream *raw = tc->raw;
	if (!(raw->eof || raw->closing) || raw->rlen || raw->rerr || tc->lower_err)
		return false;
	if (e == SSL_ERROR_SYSCALL)
		return true;
	unsigned long err = ERR_peek_error();
	return e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL &&
	       ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

/* SSL_read failed with e: end the TLS stream's receive accordingly (or
 * wait for more ciphertext). */
static void read_failed(struct tls_conn *tc, int e)
{
	ringo_stream *raw = tc->raw;
	if (e == SSL_ERROR_ZERO_RETURN) {
		tc->close_notify = true;
		end_recv(tc, 0);
		return;
	}
	if (e == SSL_ERROR_WANT_READ) {
		if (raw->rlen || !(raw->rerr || raw->eof || raw->closing))
			return; /* more will come: raw_readable pumps again */
		if (raw->rerr) {
			end_recv(tc, raw->rerr);
			return;
		}
		e = SSL_ERROR_SYSCALL; /* EOF in the middle of a record */
	}
	if (ragged_eof(tc, e)) {
		ERR_clear_error();
		ringo__tls_set_text(tc, "%s", "the peer closed without close_notify");
		end_recv(tc, (tc->cfg->flags & RINGO_TLS_STRICT_EOF) ? -ECONNRESET : 0);
		return;
	}
	end_recv(tc, ringo__tls_fail(tc, e, "read"));
}

/* Decrypt what the raw stream holds into the TLS stream's buffer while
 * its receive is on. */
static void pump_read(struct tls_conn *tc)
{
	if (tc->pumping || !tc->recv_on || tc->end_pending)
		return;
	tc->pumping = true;
	ringo_stream *s = tc->tls;
	while (tc->recv_on && !tc->end_pending) {
		size_t room;
		void *at = ringo__stream_recv_room(s, &room);
		if (!at) {
			end_recv(tc, -ENOMEM);
			break;
		}
		if (room > INT_MAX)
			room = INT_MAX;
		ERR_clear_error();
		int n = SSL_read(tc->ssl, at, (int)room);
		if (n > 0) {
			ringo__stream_recv_data(s, at, (size_t)n);
			continue;
		}
		read_failed(tc, SSL_get_error(tc->ssl, n));
		break;
	}
	/* Nothing lands in the buffer between pumps: its block may move
	 * (ringo_stream_forward). */
	s->recv_at = NULL;
	tc->pumping = false;
}

static int tls_recv_start(ringo_stream *s)
{
	struct tls_conn *tc = s->tp_ctx;
	tc->recv_on = true;
	pump_read(tc);
	return 0;
}

static void tls_recv_stop(ringo_stream *s)
{
	end_recv(s->tp_ctx, -ECANCELED);
}

/* ---- sending ---- */

static int tls_send_start(ringo_stream *s, const void *p, size_t n)
{
	struct tls_conn *tc = s->tp_ctx;
	ringo_stream *raw = tc->raw;
	size_t chunk = raw->write_high > SEND_CHUNK_MIN ? raw->write_high : SEND_CHUNK_MIN;
	if (n > chunk)
		n = chunk;
	ERR_clear_error();
	tc->lower_err = 0;
	int rc = SSL_write(tc->ssl, p, (int)n);
	if (rc <= 0)
		return ringo__tls_fail(tc, SSL_get_error(tc->ssl, rc), "write");
	tc->sending = (size_t)rc;
	if (raw->wlen <= raw->write_high)
		report_sent(tc, rc);
	else
		tc->send_wait = true;
	return 0;
}

static void tls_send_stop(ringo_stream *s)
{
	struct tls_conn *tc = s->tp_ctx;
	if (tc->send_wait)
		report_sent(tc, -ECANCELED);
}

/* ---- the raw stream's events ---- */

static void raw_readable(ringo_stream *raw, void *ctx)
{
	pump_read(ctx);
}

static void raw_sent(ringo_stream *raw, void *ctx)
{
	struct tls_conn *tc = ctx;
	if (!tc->send_wait)
		return;
	if (raw->werr)
		report_sent(tc, raw->werr);
	else if (raw->wlen <= raw->write_low)
		report_sent(tc, (int)tc->sending);
}

static void raw_closed(ringo_stream *raw, void *ctx)
{
	struct tls_conn *tc = ctx;
	if (tc->in_close_begin || !tc->releasing)
		return;
	tc->released_pending = true;
	defer(tc);
}

/* ---- ending ---- */

/* Half-close: close_notify, then the raw stream's own write EOF. */
static int tls_shutdown_write(ringo_stream *s)
{
	struct tls_conn *tc = s->tp_ctx;
	ERR_clear_error();
	if (!(SSL_get_shutdown(tc->ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(tc->ssl);
	ERR_clear_error();
	return ringo_stream_write_eof(tc->raw);
}

/* A graceful close: close_notify, then close the raw stream (which sends
 * everything first); release follows its close. */
static int tls_close_begin(ringo_stream *s)
{
	struct tls_conn *tc = s->tp_ctx;
	ERR_clear_error();
	if (!tc->raw->werr && !(SSL_get_shutdown(tc->ssl) & SSL_SENT_SHUTDOWN))
		SSL_shutdown(tc->ssl);
	ERR_clear_error();
	tc->in_close_begin = true;
	ringo_stream_close(tc->raw);
	tc->in_close_begin = false;
	if (tc->raw->closed)
		return 0;
	tc->releasing = true;
	return 1;
}

/* Give everything back: the raw stream (closed by now after a graceful
 * close; else aborted: free drops what it had not sent), OpenSSL's
 * connection, our state. */
static void tls_release(ringo_stream *s)
{
	struct tls_conn *tc = s->tp_ctx;
	s->tp_ctx = NULL;
	ringo__tls_conn_free(tc);
}

void ringo__tls_conn_free(struct tls_conn *tc)
{
	if (!tc)
		return;
	ringo__presubmit_del(&tc->defer);
	if (tc->raw) {
		tc->raw->on_readable = NULL;
		tc->raw->on_sent = NULL;
		tc->raw->on_closed = NULL;
		tc->raw->on_readable_ctx = NULL;
		if (tc->tls)
			ringo_stream_free(tc->raw); /* ours since the stream was made */
	}
	SSL_free(tc->ssl); /* frees the BIO */
	ringo_tls_config_release(tc->cfg);
	free(tc->server_name);
	free(tc->alpn);
	free(tc);
}

const struct ringo__stream_transport ringo__tls_transport = {
	.name = "tls",
	.recv_start = tls_recv_start,
	.recv_stop = tls_recv_stop,
	.send_start = tls_send_start,
	.send_stop = tls_send_stop,
	.shutdown_write = tls_shutdown_write,
	.release = tls_release,
	.close_begin = tls_close_begin,
};

int ringo__tls_stream_start(struct tls_conn *tc, ringo_stream **out)
{
	ringo_stream *raw = tc->raw;
	ringo_stream_options o = {
		.read_limit = raw->read_limit,
		.write_high = raw->write_high,
		.write_low = raw->write_low,
	};
	ringo__presubmit_init(&tc->defer, defer_run);
	raw->on_readable_ctx = tc;
	raw->on_readable = raw_readable;
	raw->on_sent = raw_sent;
	raw->on_closed = raw_closed;
	int err = ringo__stream_make(tc->loop, raw->fd, &ringo__tls_transport, tc, &o, &tc->tls);
	if (err < 0) {
		raw->on_readable = NULL;
		raw->on_sent = NULL;
		raw->on_closed = NULL;
		raw->on_readable_ctx = NULL;
		tc->tls = NULL;
		return err;
	}
	*out = tc->tls;
	return 0;
}
