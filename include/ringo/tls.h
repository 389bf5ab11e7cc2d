/*
 * ringo TLS: TLS streams over OpenSSL 3, server and client, on the same
 * ringo_stream interface as plain TCP. A separate library: link
 * libringo_tls (pkg-config ringo-tls, which brings libssl and libcrypto)
 * beside libringo; the core library never depends on OpenSSL. Compiles
 * on its own (C11 + POSIX, C++11); OpenSSL's headers are not needed to
 * use it.
 *
 * The model. A TLS stream is a ringo_stream: read, read_exactly,
 * read_until, readline, fill, peek, consume, write, writev, drain,
 * write_eof, close, wait_closed, free and the stats all work on it as on a
 * TCP stream, with the same rules (one reader and one writer task, reads
 * that keep unconsumed bytes under cancellation, write backpressure
 * through drain). It is a filter over the raw TCP stream it was made from
 * (ringo_tls_client / ringo_tls_server take that stream over): ciphertext
 * goes in and out through the raw stream's buffers (OpenSSL reads and
 * writes them through a non-blocking BIO of ringo's; no socket BIO, no
 * blocking call on the loop), plaintext lands in the TLS stream's own
 * read buffer. So a read cancelled or timed out returns at once and loses
 * nothing, as on TCP.
 *
 *     ringo_tls_config *cfg;
 *     ringo_tls_options o = {.ca_file = "ca.pem"};  // NULL: the system store
 *     int err = ringo_tls_config_new(&o, &cfg);
 *     ringo_stream *s;
 *     err = ringo_tls_connect("example.test", 443, RINGO_SEC(10), cfg, NULL, &s);
 *     ringo_stream_write(s, "GET / HTTP/1.1\r\n...", n);
 *     n = ringo_stream_readline(s, line, sizeof(line));
 *     ringo_stream_close(s); ringo_stream_wait_closed(s); ringo_stream_free(s);
 *     ringo_tls_config_release(cfg);
 *
 * A server puts ringo_tls_server_wrap in its options (wrap = it, wrap_ctx
 * = a server config): each handler then gets a TLS stream whose handshake
 * is done.
 *
 * Closing: ringo_stream_close sends what is buffered, then TLS's
 * close_notify, then closes the socket; wait_closed waits for that. A peer
 * that closes without close_notify is taken as EOF (as Python's
 * suppress_ragged_eofs; RINGO_TLS_STRICT_EOF makes it -ECONNRESET);
 * ringo_tls_close_notify_received tells the two apart.
 *
 * Errors are negative errnos, and a text says what OpenSSL reported
 * ("certificate has expired", "Hostname mismatch", "wrong version
 * number"...): ringo_tls_error(s) for an established stream,
 * ringo_tls_last_error() for a handshake that failed (no stream then).
 *   -EKEYREJECTED  the peer's certificate did not verify (expired,
 *                  untrusted, wrong host, missing when required);
 *   -EPROTO        a TLS protocol error: not TLS at all (a plain-text
 *                  client), garbage or tampered records, no common
 *                  version/cipher/ALPN protocol, a fatal alert from the
 *                  peer (e.g. it rejected our certificate), a
 *                  renegotiation attempt (refused);
 *   -ECONNRESET    the peer closed in the middle of the handshake (or,
 *                  with RINGO_TLS_STRICT_EOF, without close_notify);
 *   -ETIMEDOUT     the handshake took longer than handshake_timeout_ns;
 *   and the raw stream's own errors (-ECONNRESET, -EPIPE...).
 *
 * Kernel TLS is not used: ringo_tls_ktls_available() tells whether this
 * kernel could take the record layer, for information; every TLS stream
 * works in user space over the memory path described above.
 *
 * Threads: a config may be shared by streams on any loops and threads (it
 * is reference-counted and its session store is locked); a TLS stream
 * belongs to its raw stream's loop.
 */
#ifndef RINGO_TLS_H
#define RINGO_TLS_H

#include "../ringo.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ringo_tls_config ringo_tls_config;

enum {
	/* A server config (else a client one). */
	RINGO_TLS_SERVER = 1u << 0,
	/* Server: ask the client for a certificate and verify it against
	 * ca_file/ca_dir if it sends one (ringo_tls_peer_verified). */
	RINGO_TLS_VERIFY_CLIENT = 1u << 1,
	/* Server: a client without a certificate that verifies is refused
	 * (implies RINGO_TLS_VERIFY_CLIENT). */
	RINGO_TLS_REQUIRE_CLIENT_CERT = 1u << 2,
	/* Client: do NOT verify the server's certificate or name. Anyone on
	 * the path can then read and change the traffic: for tests against
	 * self-signed servers only. Loud on purpose. */
	RINGO_TLS_INSECURE_NO_VERIFY = 1u << 3,
	/* No session resumption (server: no cache, no tickets; client: no
	 * session kept or offered). */
	RINGO_TLS_NO_RESUMPTION = 1u << 4,
	/* A peer closing without close_notify fails reads with -ECONNRESET
	 * instead of reading as EOF. */
	RINGO_TLS_STRICT_EOF = 1u << 5,
};

/* Protocol versions for min_version / max_version. */
enum {
	RINGO_TLS_VERSION_1_2 = 0x0303,
	RINGO_TLS_VERSION_1_3 = 0x0304,
};

typedef struct ringo_tls_options {
	/* PEM certificate chain (leaf first) and its private key. Required
	 * for a server; optional for a client (a client certificate). */
	const char *cert_file;
	const char *key_file;
	/* PEM CA certificates to verify the peer with (a bundle file and/or
	 * an OpenSSL hashed directory). Both NULL: a client uses the system
	 * store; a server verifying clients needs one of them. */
	const char *ca_file;
	const char *ca_dir;
	/* ALPN protocols ("h2", "http/1.1"), in preference order: a server
	 * picks the first of its list the client offers (none in common: the
	 * handshake fails, RFC 7301); a client offers them. nalpn entries,
	 * each 1..255 bytes. Copied. */
	const char *const *alpn;
	size_t nalpn;
	unsigned flags;   /* RINGO_TLS_* */
	/* Protocol versions: 0 = TLS 1.2 at least, TLS 1.3 at most. */
	int min_version;
	int max_version;
	/* OpenSSL cipher strings: ciphers for TLS 1.2 ("ECDHE-ECDSA-AES128-
	 * GCM-SHA256"), ciphersuites for TLS 1.3 ("TLS_AES_128_GCM_SHA256");
	 * NULL = OpenSSL's defaults. */
	const char *ciphers;
	const char *ciphersuites;
	/* The longest a handshake may take (a silent peer cannot hold a task
	 * for ever): 0 = 30 s; RINGO_FOREVER (< 0) = no limit of its own
	 * (the caller's timeout scopes still apply). */
	int64_t handshake_timeout_ns;
} ringo_tls_options;

/* Does not suspend (reads the files). Make a config (an OpenSSL SSL_CTX
 * with the options above). Returns 0 and *out (one reference, the
 * caller's: ringo_tls_config_release), or -EINVAL (NULL opts/out,
 * unknown flags, a server without cert_file/key_file, cert without key
 * or the reverse, a bad ALPN list, a bad version or cipher string,
 * RINGO_TLS_VERIFY_CLIENT without ca_file/ca_dir), -ENOENT / -EACCES (a
 * file cannot be read), -EBADMSG (a file is not valid PEM, or the key
 * does not match the certificate), -ENOMEM. The error's text:
 * ringo_tls_last_error(). opts and its strings are not used after the
 * call. Any thread. */
int ringo_tls_config_new(const ringo_tls_options *opts, ringo_tls_config **out);

/* Does not suspend. Server SNI: add another certificate chain and key;
 * a client whose server name matches one of its names (subjectAltName
 * DNS entries, else the common name; "*.example.test" wildcards match
 * one label) gets it, anyone else the config's first one. 0, -EINVAL
 * (NULL, not a server config, or the config is already in use by a
 * stream), -ENOMEM, and the file errors of ringo_tls_config_new. */
int ringo_tls_config_add_cert(ringo_tls_config *c, const char *cert_file, const char *key_file);

/* Does not suspend. Take / drop a reference. The config is freed with its last reference;
 * every TLS stream made with it holds one until it is freed. NULL is a
 * no-op. Any thread. */
void ringo_tls_config_ref(ringo_tls_config *c);
void ringo_tls_config_release(ringo_tls_config *c);

/* May suspend (the handshake). Make raw (a connected stream, usually
 * TCP) a TLS client stream and run the handshake. server_name is the
 * name the server's certificate must carry (a DNS name, or an IPv4/IPv6
 * address checked against the certificate's IP entries) and, for a DNS
 * name, the SNI sent; it may be NULL only with RINGO_TLS_INSECURE_NO_
 * VERIFY. A session kept from an earlier connection to server_name with
 * this config is offered (ringo_tls_session_reused).
 *
 * Returns 0 and *out, which owns raw from then on (freeing *out frees
 * raw; do not use raw again). Errors: see the list at the top
 * (ringo_tls_last_error() has the text), -EINVAL (NULL raw/c/out, a
 * server config, NULL server_name while verifying, raw already read
 * from or written to by a filter), -EPERM (not a task), -ECANCELED. On
 * failure raw has been closed (a fatal alert queued in it is sent within
 * the handshake's time bounds) and is still the caller's: free it.
 * Cancelled (or timed out): returns at once; nothing of OpenSSL's is
 * left in use, raw as on failure. */
int ringo_tls_client(ringo_stream *raw, ringo_tls_config *c, const char *server_name,
		     ringo_stream **out);

/* May suspend. The server side of ringo_tls_client: c is a server
 * config. Returns and leaves raw as ringo_tls_client. */
int ringo_tls_server(ringo_stream *raw, ringo_tls_config *c, ringo_stream **out);

/* May suspend (the handshake). ringo_tls_server with config = a
 * ringo_tls_config *, in the shape of ringo_server_options.wrap: returns
 * and leaves raw as ringo_tls_server. */
int ringo_tls_server_wrap(ringo_stream *raw, void *config, ringo_stream **out);

/* May suspend. ringo_stream_connect(host, port, timeout_ns, opts) then
 * ringo_tls_client(raw, c, host): timeout_ns bounds the whole (the
 * connection and the handshake; the config's handshake timeout applies
 * too). Returns 0 and *out, or the errors of both (nothing is left
 * open), -EINVAL (NULL host/c/out, a server config), -EPERM (not a
 * task). Cancelled: -ECANCELED, nothing left open. */
int ringo_tls_connect(const char *host, int port, int64_t timeout_ns, ringo_tls_config *c,
		      const ringo_stream_options *opts, ringo_stream **out);

/* ---- queries on a TLS stream (NULL, false or -EINVAL for a stream that
 * is not one); strings valid until the stream is freed. Do not suspend. */

/* Does not suspend. The ALPN protocol agreed on, or NULL if none. */
const char *ringo_tls_alpn(const ringo_stream *s);
/* Does not suspend. Server: the name the client sent (SNI), client:
 * the name it asked for; NULL if none. */
const char *ringo_tls_server_name(const ringo_stream *s);
/* Does not suspend. The protocol version ("TLSv1.3") and cipher
 * ("TLS_AES_128_GCM_SHA256"). */
const char *ringo_tls_version(const ringo_stream *s);
const char *ringo_tls_cipher(const ringo_stream *s);
/* Does not suspend. The handshake resumed an earlier session. */
bool ringo_tls_session_reused(const ringo_stream *s);
/* Does not suspend. The peer sent a certificate and it verified (a client: the server's,
 * always true unless RINGO_TLS_INSECURE_NO_VERIFY; a server: the
 * client's certificate, with RINGO_TLS_VERIFY_CLIENT). */
bool ringo_tls_peer_verified(const ringo_stream *s);
/* Does not suspend. The peer certificate's subject as one line
 * ("CN=client,O=..."): copied into buf (cap bytes, NUL-terminated, cut
 * if longer); its length, -ENOENT if the peer sent none, -EINVAL,
 * -ENOMEM. */
int ringo_tls_peer_subject(const ringo_stream *s, char *buf, size_t cap);
/* Does not suspend. The peer closed with close_notify (a clean TLS
 * end, not a cut). */
bool ringo_tls_close_notify_received(const ringo_stream *s);
/* Does not suspend. The text of the stream's TLS error, "" if none. */
const char *ringo_tls_error(const ringo_stream *s);
/* Does not suspend. The text of the last TLS failure on the calling thread (a handshake or
 * a config that failed), "" if none; valid until the next ringo_tls_
 * call on this thread. */
const char *ringo_tls_last_error(void);

/* Does not suspend. Whether this kernel has the `tls` ULP (kernel
 * TLS), probed once (a loopback connection and setsockopt TCP_ULP): 1
 * yes, 0 no. For
 * information: ringo does not hand TLS to the kernel yet. Any thread. */
int ringo_tls_ktls_available(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGO_TLS_H */
