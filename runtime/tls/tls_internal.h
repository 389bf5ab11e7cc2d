/*
 * Private to ringo's TLS library (runtime/tls/): the config (config.c),
 * the handshake and the public calls (tls.c), the stream transport that
 * filters a raw stream (transport.c), the kernel TLS probe (ktls.c).
 */
#ifndef RINGO_TLS_INTERNAL_H
#define RINGO_TLS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <openssl/ssl.h>

#include <ringo/tls.h>

#include "stream_internal.h"

/* One SNI certificate: what the servername callback installs. */
struct tls_cert {
	X509 *leaf;
	EVP_PKEY *key;
	STACK_OF(X509) *chain;  /* the intermediates (may be empty) */
	char **names;           /* subjectAltName DNS names, else the CN */
	size_t nnames;
};

/* A client's kept session for one server name. */
struct tls_session {
	struct tls_session *next;
	char *name;
	SSL_SESSION *sess;
};

struct ringo_tls_config {
	SSL_CTX *ctx;
	unsigned flags;              /* RINGO_TLS_* */
	bool server;
	int64_t handshake_ns;        /* resolved: > 0, or < 0 for none */
	unsigned char *alpn;         /* wire format (length-prefixed) */
	size_t alpn_len;
	struct tls_cert *certs;      /* SNI certificates (add_cert) */
	size_t ncerts;
	_Atomic unsigned refs;
	_Atomic bool used;           /* a stream was made: no more add_cert */
	pthread_mutex_t lock;        /* sessions */
	struct tls_session *sessions;/* client: one per server name */
	size_t nsessions;
};

/* The state of one TLS stream: the TLS stream above (tls), the raw stream
 * below (raw), OpenSSL's connection. Lives from the handshake's start
 * to the TLS stream's release (transport.c). */
struct tls_conn {
	ringo_loop *loop;
	ringo_tls_config *cfg;       /* one reference */
	SSL *ssl;
	ringo_stream *raw;           /* below: ciphertext */
	ringo_stream *tls;           /* above: plaintext; NULL during the handshake */
	char *server_name;           /* client: asked for; server: SNI seen */
	char *alpn;                  /* the protocol agreed on, or NULL */
	int lower_err;               /* the raw stream's error the BIO met */

	/* The TLS stream's receive (between recv_start and recv_end). */
	bool recv_on;
	bool pumping;                /* inside pump_read: no re-entry */
	bool end_pending;            /* recv_end(end_res) deferred */
	int end_res;
	/* Its send: `sending` plaintext bytes were encrypted into raw. */
	size_t sending;
	bool send_wait;              /* until raw drains to its low mark */
	bool sent_pending;           /* ringo__stream_sent(sent_res) deferred */
	int sent_res;
	/* Closing: close_begin closed raw, its on_closed calls back. */
	bool releasing;
	bool in_close_begin;
	bool released_pending;       /* ringo__stream_released deferred */
	bool close_notify;           /* the peer's close_notify arrived */
	/* Upcalls are deferred to here (right before the loop's next
	 * io_uring_enter): the core must not be re-entered from its own
	 * calls into the transport. */
	struct ringo__presubmit defer;
	char err[200];               /* ringo_tls_error's text */
};

extern const struct ringo__stream_transport ringo__tls_transport;

/* config.c */
/* An SSL for a new connection of c (server or client side). NULL on
 * -ENOMEM. */
SSL *ringo__tls_ssl_new(ringo_tls_config *c);
/* Client sessions: the one kept for name (a reference, or NULL); keep a
 * new one. */
SSL_SESSION *ringo__tls_session_get(ringo_tls_config *c, const char *name);
/* ex_data index on SSL: the struct tls_conn. */
int ringo__tls_ex_index(void);

/* tls.c: errors. Set the thread's last error text (and conn's, if any)
 * from OpenSSL's error queue and the verify result; returns the errno
 * for what happened (rc and the SSL_get_error code e). */
int ringo__tls_fail(struct tls_conn *tc, int e, const char *what);
void ringo__tls_set_text(struct tls_conn *tc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* transport.c */
/* The BIO over the raw stream's buffers for tc. NULL on -ENOMEM. */
BIO *ringo__tls_bio_new(struct tls_conn *tc);
/* After the handshake: make the TLS stream and start its pump. */
int ringo__tls_stream_start(struct tls_conn *tc, ringo_stream **out);
/* Free tc and its SSL (the raw stream is the caller's business). */
void ringo__tls_conn_free(struct tls_conn *tc);

#endif /* RINGO_TLS_INTERNAL_H */
