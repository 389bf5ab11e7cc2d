/*
 * TLS streams: the handshake over a raw stream, the public calls, errors
 * as negative errnos with OpenSSL's text.
 *
 * The handshake runs in the calling task: SSL_do_handshake reads and
 * writes the raw stream through the BIO of transport.c, and when OpenSSL
 * wants more ciphertext the task waits in ringo_stream_fill on the raw
 * stream (so a cancel or a timeout scope ends it at once, with nothing of
 * OpenSSL's left in use: the SSL is freed before the call returns). Only
 * once it is done is the TLS stream made (transport.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"

/* How long a failed handshake's alert may take to go out before the raw
 * stream is left to its owner (closed, bytes maybe unsent). */
#define ALERT_FLUSH_NS RINGO_MSEC(200)

static __thread char last_err[200];

/* ---- errors ---- */

void ringo__tls_set_text(struct tls_conn *tc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_err, sizeof(last_err), fmt, ap);
	va_end(ap);
	if (tc)
		snprintf(tc->err, sizeof(tc->err), "%s", last_err);
}

const char *ringo_tls_last_error(void)
{
	return last_err;
}

static bool is_reason(unsigned long err, int reason)
{
	return err && ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == reason;
}

int ringo__tls_fail(struct tls_conn *tc, int e, const char *what)
{
	unsigned long err = ERR_peek_error();
	long vr = tc && tc->ssl ? SSL_get_verify_result(tc->ssl) : X509_V_OK;
	int rc;
	if (tc && tc->lower_err && (e == SSL_ERROR_SYSCALL || !err)) {
		rc = tc->lower_err;
		ringo__tls_set_text(tc, "%s: %s", what, strerror(-rc));
	} else if (is_reason(err, SSL_R_CERTIFICATE_VERIFY_FAILED) && vr != X509_V_OK) {
		rc = -EKEYREJECTED;
		ringo__tls_set_text(tc, "%s: certificate verify failed: %s", what,
				    X509_verify_cert_error_string(vr));
	} else if (is_reason(err, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
		rc = -EKEYREJECTED;
		ringo__tls_set_text(tc, "%s: the peer did not send a certificate", what);
	} else if (err) {
		rc = -EPROTO;
		const char *r = ERR_reason_error_string(err);
		ringo__tls_set_text(tc, "%s: %s", what, r ? r : "protocol error");
	} else if (e == SSL_ERROR_SYSCALL) {
		rc = -ECONNRESET;
		ringo__tls_set_text(tc, "%s: the peer closed the connection", what);
	} else {
		rc = -EPROTO;
		ringo__tls_set_text(tc, "%s: unexpected OpenSSL state %d", what, e);
	}
	ERR_clear_error();
	return rc;
}

/* ---- the handshake ---- */

static int handshake_steps(struct tls_conn *tc)
{
	ringo_stream *raw = tc->raw;
	for (;;) {
		ERR_clear_error();
		tc->lower_err = 0;
		int rc = SSL_do_handshake(tc->ssl);
		if (rc == 1)
			return 0;
		int e = SSL_get_error(tc->ssl, rc);
		bool ended = !raw->rlen && (raw->eof || raw->rerr);
		if (e != SSL_ERROR_WANT_READ && !(ended && !ERR_peek_error()))
			return ringo__tls_fail(tc, e, "handshake");
		if (raw->rerr && !raw->rlen) {
			ringo__tls_set_text(tc, "handshake: %s", strerror(-raw->rerr));
			return raw->rerr;
		}
		if (raw->eof && !raw->rlen) {
			ERR_clear_error();
			ringo__tls_set_text(tc, "%s", "handshake: the peer closed the connection");
			return -ECONNRESET;
		}
		/* What OpenSSL wrote goes out with the loop's next submission;
		 * wait for the peer's answer. */
		rc = ringo_stream_fill(raw);
		if (rc < 0) {
			ringo__tls_set_text(tc, "handshake: %s", strerror(-rc));
			return rc;
		}
	}
}

static int handshake(struct tls_conn *tc)
{
	ringo_timeout scope;
	int64_t ns = tc->cfg->handshake_ns;
	bool scoped = ns > 0 && ringo_timeout_enter(&scope, ns) == 0;
	int rc = handshake_steps(tc);
	if (scoped) {
		rc = ringo_timeout_exit(&scope, rc);
		if (rc == -ETIMEDOUT)
			ringo__tls_set_text(tc, "handshake: timed out after %lld ms",
					    (long long)(ns / RINGO_MSEC(1)));
	}
	return rc;
}

/* A failed handshake: let the alert OpenSSL queued reach the peer (a
 * short bound; not when cancelled: return at once), close raw. */
static void close_after_failure(ringo_stream *raw, int rc)
{
	ringo_task *self = ringo_task_current();
	ringo_stream_close(raw);
	if (rc == -ECANCELED || !self || ringo_task_cancelling(self) > 0)
		return;
	ringo_timeout scope;
	if (ringo_timeout_enter(&scope, ALERT_FLUSH_NS) == 0)
		ringo_timeout_exit(&scope, ringo_stream_wait_closed(raw));
}

static bool is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* The client's checks and offers on its SSL: the name to verify, SNI,
 * a kept session. */
static int client_setup(struct tls_conn *tc, const char *name)
{
	SSL *ssl = tc->ssl;
	SSL_set_connect_state(ssl);
	if (!name)
		return 0;
	tc->server_name = strdup(name);
	if (!tc->server_name)
		return -ENOMEM;
	bool verify = !(tc->cfg->flags & RINGO_TLS_INSECURE_NO_VERIFY);
	if (is_ip(name)) {
		/* RFC 6066: no SNI for an address; check the certificate's
		 * IP entries. */
		if (verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
			return -EINVAL;
	} else {
		if (SSL_set_tlsext_host_name(ssl, name) != 1)
			return -EINVAL;
		if (verify && SSL_set1_host(ssl, name) != 1)
			return -EINVAL;
	}
	SSL_SESSION *sess = ringo__tls_session_get(tc->cfg, name);
	if (sess) {
		SSL_set_session(ssl, sess);
		SSL_SESSION_free(sess);
	}
	return 0;
}

/* OpenSSL's ALPN result is not NUL-terminated: keep a string. */
static int keep_alpn(struct tls_conn *tc)
{
	const unsigned char *p;
	unsigned len;
	SSL_get0_alpn_selected(tc->ssl, &p, &len);
	if (!len)
		return 0;
	tc->alpn = strndup((const char *)p, len);
	return tc->alpn ? 0 : -ENOMEM;
}

static int wrap(ringo_stream *raw, ringo_tls_config *c, bool server, const char *name,
		ringo_stream **out)
{
	ringo__tls_set_text(NULL, "%s", "");
	if (!raw || !c || !out || server != c->server)
		return -EINVAL;
	*out = NULL;
	if (!server && !name && !(c->flags & RINGO_TLS_INSECURE_NO_VERIFY))
		return -EINVAL;
	if (raw->on_readable || raw->closing || !raw->readable || !raw->writable)
		return -EINVAL;
	if (!ringo_task_current())
		return -EPERM;
	struct tls_conn *tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->loop = raw->loop;
	tc->raw = raw;
	tc->cfg = c;
	ringo_tls_config_ref(c);
	ringo__presubmit_init(&tc->defer, NULL);
	int rc = -ENOMEM;
	tc->ssl = ringo__tls_ssl_new(c);
	BIO *bio = tc->ssl ? ringo__tls_bio_new(tc) : NULL;
	if (bio) {
		SSL_set_bio(tc->ssl, bio, bio); /* one reference for both ends */
		SSL_set_ex_data(tc->ssl, ringo__tls_ex_index(), tc);
		if (server)
			SSL_set_accept_state(tc->ssl);
		rc = server ? 0 : client_setup(tc, name);
	}
	if (rc == 0)
		rc = handshake(tc);
	if (rc == 0)
		rc = keep_alpn(tc);
	if (rc == 0)
		rc = ringo__tls_stream_start(tc, out);
	if (rc < 0) {
		/* The alert's flush suspends: other tasks' TLS calls on this
		 * thread would overwrite the text meanwhile. */
		char text[sizeof(last_err)];
		memcpy(text, last_err, sizeof(text));
		ERR_clear_error();
		ringo__tls_conn_free(tc);
		close_after_failure(raw, rc);
		memcpy(last_err, text, sizeof(text));
	}
	return rc;
}

int ringo_tls_client(ringo_stream *raw, ringo_tls_config *c, const char *server_name,
		     ringo_stream **out)
{
	return wrap(raw, c, false, server_name, out);
}

int ringo_tls_server(ringo_stream *raw, ringo_tls_config *c, ringo_stream **out)
{
	return wrap(raw, c, true, NULL, out);
}

int ringo_tls_server_wrap(ringo_stream *raw, void *config, ringo_stream **out)
{
	return wrap(raw, config, true, NULL, out);
}

int ringo_tls_connect(const char *host, int port, int64_t timeout_ns, ringo_tls_config *c,
		      const ringo_stream_options *opts, ringo_stream **out)
{
	ringo__tls_set_text(NULL, "%s", "");
	if (!host || !c || !out || c->server)
		return -EINVAL;
	*out = NULL;
	if (!ringo_task_current())
		return -EPERM;
	ringo_timeout scope;
	bool scoped = timeout_ns >= 0;
	if (scoped) {
		int err = ringo_timeout_enter(&scope, timeout_ns);
		if (err < 0)
			return err;
	}
	ringo_stream *raw = NULL;
	int rc = ringo_stream_connect(host, port, RINGO_FOREVER, opts, &raw);
	if (rc == 0) {
		rc = ringo_tls_client(raw, c, host, out);
		if (rc < 0)
			ringo_stream_free(raw);
	}
	if (scoped)
		rc = ringo_timeout_exit(&scope, rc);
	if (rc < 0 && *out) {
		ringo_stream_free(*out); /* the deadline fired as it was done */
		*out = NULL;
	}
	return rc;
}

/* ---- queries ---- */

static struct tls_conn *conn(const ringo_stream *s)
{
	if (!s || s->tp != &ringo__tls_transport)
		return NULL;
	return s->tp_ctx;
}

const char *ringo_tls_alpn(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc ? tc->alpn : NULL;
}

const char *ringo_tls_server_name(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc ? tc->server_name : NULL;
}

const char *ringo_tls_version(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc ? SSL_get_version(tc->ssl) : NULL;
}

const char *ringo_tls_cipher(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc ? SSL_get_cipher_name(tc->ssl) : NULL;
}

bool ringo_tls_session_reused(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc && SSL_session_reused(tc->ssl);
}

bool ringo_tls_peer_verified(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	if (!tc)
		return false;
	bool verifying = tc->cfg->server ? (tc->cfg->flags & RINGO_TLS_VERIFY_CLIENT)
					 : !(tc->cfg->flags & RINGO_TLS_INSECURE_NO_VERIFY);
	X509 *peer = SSL_get0_peer_certificate(tc->ssl);
	return verifying && peer && SSL_get_verify_result(tc->ssl) == X509_V_OK;
}

int ringo_tls_peer_subject(const ringo_stream *s, char *buf, size_t cap)
{
	struct tls_conn *tc = conn(s);
	if (!tc || (!buf && cap))
		return -EINVAL;
	X509 *peer = SSL_get0_peer_certificate(tc->ssl);
	if (!peer)
		return -ENOENT;
	BIO *m = BIO_new(BIO_s_mem());
	if (!m)
		return -ENOMEM;
	X509_NAME_print_ex(m, X509_get_subject_name(peer), 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
	char *p;
	long n = BIO_get_mem_data(m, &p);
	if (cap) {
		size_t k = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
		memcpy(buf, p, k);
		buf[k] = 0;
	}
	BIO_free(m);
	return n > INT_MAX ? INT_MAX : (int)n;
}

bool ringo_tls_close_notify_received(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc && tc->close_notify;
}

const char *ringo_tls_error(const ringo_stream *s)
{
	struct tls_conn *tc = conn(s);
	return tc ? tc->err : "";
}
