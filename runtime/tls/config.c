/*
 * TLS configs: an OpenSSL SSL_CTX with ringo's defaults, SNI certificates
 * chosen in the servername callback, ALPN, and the client's session store
 * (one session per server name, offered on the next connection).
 *
 * Defaults, and why: TLS 1.2 at least; renegotiation refused
 * (SSL_OP_NO_RENEGOTIATION: a peer can neither renegotiate nor make us);
 * read-ahead (OpenSSL pulls whole records from the raw stream's buffer in
 * one call); buffers released when idle (an idle connection holds no 34
 * KiB of record buffers: servers keep many).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"

#define DEFAULT_HANDSHAKE_NS RINGO_SEC(30)
#define MAX_SESSIONS 256 /* client: server names remembered per config */
#define KNOWN_FLAGS                                                                   \
	(RINGO_TLS_SERVER | RINGO_TLS_VERIFY_CLIENT | RINGO_TLS_REQUIRE_CLIENT_CERT | \
	 RINGO_TLS_INSECURE_NO_VERIFY | RINGO_TLS_NO_RESUMPTION | RINGO_TLS_STRICT_EOF)

/* ---- the SSL ex_data slot: SSL -> struct tls_conn ---- */

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void)
{
	ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int ringo__tls_ex_index(void)
{
	pthread_once(&ex_once, ex_init);
	return ex_index;
}

static struct tls_conn *conn_of(SSL *ssl)
{
	return SSL_get_ex_data(ssl, ringo__tls_ex_index());
}

/* ---- loading files ---- */

/* A file that failed to load: unreadable (-ENOENT, -EACCES) or not what
 * it should be (-EBADMSG), with the text. */
static int load_error(const char *what, const char *path)
{
	int err = access(path, R_OK) < 0 ? -errno : -EBADMSG;
	unsigned long e = ERR_peek_last_error();
	if (err == -EBADMSG && e)
		ringo__tls_set_text(NULL, "%s %s: %s", what, path, ERR_reason_error_string(e));
	else
		ringo__tls_set_text(NULL, "%s %s: %s", what, path, strerror(-err));
	ERR_clear_error();
	return err;
}

static int load_pair(SSL_CTX *ctx, const char *cert, const char *key)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return load_error("certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return load_error("key", key);
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ringo__tls_set_text(NULL, "key %s does not match certificate %s", key, cert);
		ERR_clear_error();
		return -EBADMSG;
	}
	return 0;
}

static int load_verify(SSL_CTX *ctx, const ringo_tls_options *o)
{
	if (!o->ca_file && !o->ca_dir) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			return load_error("system CA store", "(default paths)");
		return 0;
	}
	if (SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_dir) != 1)
		return load_error("CA", o->ca_file ? o->ca_file : o->ca_dir);
	return 0;
}

/* ---- ALPN ---- */

static int alpn_wire(ringo_tls_config *c, const char *const *list, size_t n)
{
	if (n == 0)
		return 0;
	if (!list)
		return -EINVAL;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = list[i] ? strlen(list[i]) : 0;
		if (l == 0 || l > 255)
			return -EINVAL;
		len += 1 + l;
	}
	if (len > 0xffff)
		return -EINVAL;
	c->alpn = malloc(len);
	if (!c->alpn)
		return -ENOMEM;
	unsigned char *p = c->alpn;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);
		*p++ = (unsigned char)l;
		memcpy(p, list[i], l);
		p += l;
	}
	c->alpn_len = len;
	return 0;
}

/* Server: the first of our protocols the client offers (our preference);
 * none in common fails the handshake (RFC 7301's no_application_protocol). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	ringo_tls_config *c = arg;
	unsigned char *sel;
	if (SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* ---- SNI ---- */

static bool name_matches(const char *pattern, const char *name)
{
	if (strcasecmp(pattern, name) == 0)
		return true;
	/* "*.example.test" matches exactly one leftmost label. */
	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	const char *dot = strchr(name, '.');
	return dot && dot != name && strcasecmp(pattern + 1, dot) == 0;
}

static int servername_cb(SSL *ssl, int *alert, void *arg)
{
	ringo_tls_config *c = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct tls_conn *tc = conn_of(ssl);
	if (!name)
		return SSL_TLSEXT_ERR_NOACK;
	if (tc && !tc->server_name)
		tc->server_name = strdup(name); /* NULL on ENOMEM: only a query loses */
	for (size_t i = 0; i < c->ncerts; i++) {
		struct tls_cert *k = &c->certs[i];
		for (size_t j = 0; j < k->nnames; j++) {
			if (!name_matches(k->names[j], name))
				continue;
			if (SSL_use_cert_and_key(ssl, k->leaf, k->key, k->chain, 1) != 1) {
				*alert = SSL_AD_INTERNAL_ERROR;
				return SSL_TLSEXT_ERR_ALERT_FATAL;
			}
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK; /* the default certificate */
}

static int add_name(struct tls_cert *k, const char *name, size_t len)
{
	if (len == 0 || memchr(name, 0, len))
		return 0; /* an embedded NUL: never matched */
	char **nn = realloc(k->names, (k->nnames + 1) * sizeof(*nn));
	if (!nn)
		return -ENOMEM;
	k->names = nn;
	nn[k->nnames] = strndup(name, len);
	if (!nn[k->nnames])
		return -ENOMEM;
	k->nnames++;
	return 0;
}

/* The names a certificate is for: its DNS subjectAltNames, else its CN. */
static int cert_names(struct tls_cert *k)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(k->leaf, NID_subject_alt_name, NULL, NULL);
	int err = 0;
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && !err; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS)
			err = add_name(k, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
				       (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (err || k->nnames)
		return err;
	char cn[256];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(k->leaf), NID_commonName, cn,
					  sizeof(cn));
	return n > 0 ? add_name(k, cn, (size_t)n) : 0;
}

static void cert_free(struct tls_cert *k)
{
	X509_free(k->leaf);
	EVP_PKEY_free(k->key);
	sk_X509_pop_free(k->chain, X509_free);
	for (size_t i = 0; i < k->nnames; i++)
		free(k->names[i]);
	free(k->names);
}

static int read_cert(struct tls_cert *k, const char *cert_file, const char *key_file)
{
	FILE *f = fopen(cert_file, "r");
	if (!f)
		return load_error("certificate", cert_file);
	k->leaf = PEM_read_X509(f, NULL, NULL, NULL);
	k->chain = sk_X509_new_null();
	X509 *x;
	while (k->leaf && k->chain && (x = PEM_read_X509(f, NULL, NULL, NULL)))
		if (!sk_X509_push(k->chain, x))
			X509_free(x);
	fclose(f);
	ERR_clear_error(); /* the end of the file reads as an error */
	if (!k->leaf || !k->chain)
		return !k->chain ? -ENOMEM : load_error("certificate", cert_file);
	f = fopen(key_file, "r");
	if (!f)
		return load_error("key", key_file);
	k->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k->key)
		return load_error("key", key_file);
	if (X509_check_private_key(k->leaf, k->key) != 1) {
		ERR_clear_error();
		ringo__tls_set_text(NULL, "key %s does not match certificate %s", key_file,
				    cert_file);
		return -EBADMSG;
	}
	return cert_names(k);
}

int ringo_tls_config_add_cert(ringo_tls_config *c, const char *cert_file, const char *key_file)
{
	if (!c || !cert_file || !key_file || !c->server || c->used)
		return -EINVAL;
	struct tls_cert k = {0};
	int err = read_cert(&k, cert_file, key_file);
	struct tls_cert *nc = err ? NULL : realloc(c->certs, (c->ncerts + 1) * sizeof(*nc));
	if (!err && !nc)
		err = -ENOMEM;
	if (err) {
		cert_free(&k);
		return err;
	}
	c->certs = nc;
	c->certs[c->ncerts++] = k;
	return 0;
}

/* ---- client sessions ---- */

/* OpenSSL hands over a new session (TLS 1.3: a ticket after the
 * handshake): keep it as the one for the connection's server name. */
static int session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *tc = conn_of(ssl);
	if (!tc || !tc->server_name || !SSL_SESSION_is_resumable(sess))
		return 0;
	ringo_tls_config *c = tc->cfg;
	pthread_mutex_lock(&c->lock);
	struct tls_session *s = c->sessions;
	while (s && strcmp(s->name, tc->server_name) != 0)
		s = s->next;
	if (!s && c->nsessions < MAX_SESSIONS) {
		s = calloc(1, sizeof(*s));
		if (s && !(s->name = strdup(tc->server_name))) {
			free(s);
			s = NULL;
		}
		if (s) {
			s->next = c->sessions;
			c->sessions = s;
			c->nsessions++;
		}
	}
	if (s) {
		SSL_SESSION_free(s->sess);
		s->sess = sess; /* ours: returning 1 keeps the reference */
	}
	pthread_mutex_unlock(&c->lock);
	return s ? 1 : 0;
}

SSL_SESSION *ringo__tls_session_get(ringo_tls_config *c, const char *name)
{
	if (!name || (c->flags & RINGO_TLS_NO_RESUMPTION))
		return NULL;
	SSL_SESSION *r = NULL;
	pthread_mutex_lock(&c->lock);
	for (struct tls_session *s = c->sessions; s; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			if (s->sess && SSL_SESSION_up_ref(s->sess) == 1)
				r = s->sess;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---- the context ---- */

static int check_options(const ringo_tls_options *o)
{
	if (o->flags & ~(unsigned)KNOWN_FLAGS)
		return -EINVAL;
	bool server = o->flags & RINGO_TLS_SERVER;
	if (!o->cert_file != !o->key_file || (server && !o->cert_file))
		return -EINVAL;
	if (server && (o->flags & RINGO_TLS_INSECURE_NO_VERIFY))
		return -EINVAL;
	if (!server && (o->flags & (RINGO_TLS_VERIFY_CLIENT | RINGO_TLS_REQUIRE_CLIENT_CERT)))
		return -EINVAL;
	if ((o->flags & (RINGO_TLS_VERIFY_CLIENT | RINGO_TLS_REQUIRE_CLIENT_CERT)) &&
	    !o->ca_file && !o->ca_dir)
		return -EINVAL;
	int lo = o->min_version, hi = o->max_version;
	if ((lo && lo != RINGO_TLS_VERSION_1_2 && lo != RINGO_TLS_VERSION_1_3) ||
	    (hi && hi != RINGO_TLS_VERSION_1_2 && hi != RINGO_TLS_VERSION_1_3) ||
	    (lo && hi && lo > hi))
		return -EINVAL;
	return 0;
}

static int setup_protocol(ringo_tls_config *c, const ringo_tls_options *o)
{
	SSL_CTX *ctx = c->ctx;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 (c->server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_read_ahead(ctx, 1);
	if (SSL_CTX_set_min_proto_version(ctx, o->min_version ? o->min_version : TLS1_2_VERSION) !=
		    1 ||
	    SSL_CTX_set_max_proto_version(ctx, o->max_version ? o->max_version : TLS1_3_VERSION) !=
		    1)
		return -EINVAL;
	if ((o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) ||
	    (o->ciphersuites && SSL_CTX_set_ciphersuites(ctx, o->ciphersuites) != 1)) {
		ringo__tls_set_text(NULL, "no usable cipher in \"%s\"",
				    o->ciphers ? o->ciphers : o->ciphersuites);
		ERR_clear_error();
		return -EINVAL;
	}
	int err = alpn_wire(c, o->alpn, o->nalpn);
	if (err < 0)
		return err;
	if (c->alpn && c->server)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, c);
	else if (c->alpn && SSL_CTX_set_alpn_protos(ctx, c->alpn, (unsigned)c->alpn_len) != 0)
		return -ENOMEM;
	return 0;
}

static int setup_peer_checks(ringo_tls_config *c, const ringo_tls_options *o)
{
	SSL_CTX *ctx = c->ctx;
	bool resume = !(o->flags & RINGO_TLS_NO_RESUMPTION);
	if (c->server) {
		/* Resumed sessions must belong to this service (and to the
		 * client verification it made). */
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"ringo", 5);
		if (!resume) {
			SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
			SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
			SSL_CTX_set_num_tickets(ctx, 0);
		}
		SSL_CTX_set_tlsext_servername_callback(ctx, servername_cb);
		SSL_CTX_set_tlsext_servername_arg(ctx, c);
		if (!(o->flags & (RINGO_TLS_VERIFY_CLIENT | RINGO_TLS_REQUIRE_CLIENT_CERT))) {
			SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
			return 0;
		}
		int err = load_verify(ctx, o);
		if (err < 0)
			return err;
		if (o->ca_file) {
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
			if (names)
				SSL_CTX_set_client_CA_list(ctx, names);
			ERR_clear_error();
		}
		int mode = SSL_VERIFY_PEER;
		if (o->flags & RINGO_TLS_REQUIRE_CLIENT_CERT)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
		return 0;
	}
	if (resume) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
							    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, session_new_cb);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	if (o->flags & RINGO_TLS_INSECURE_NO_VERIFY) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return load_verify(ctx, o);
}

static void config_free(ringo_tls_config *c)
{
	SSL_CTX_free(c->ctx);
	for (size_t i = 0; i < c->ncerts; i++)
		cert_free(&c->certs[i]);
	free(c->certs);
	while (c->sessions) {
		struct tls_session *s = c->sessions;
		c->sessions = s->next;
		SSL_SESSION_free(s->sess);
		free(s->name);
		free(s);
	}
	free(c->alpn);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int ringo_tls_config_new(const ringo_tls_options *o, ringo_tls_config **out)
{
	ringo__tls_set_text(NULL, "%s", "");
	if (!o || !out)
		return -EINVAL;
	*out = NULL;
	int err = check_options(o);
	if (err < 0)
		return err;
	ringo_tls_config *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->refs = 1;
	c->flags = o->flags;
	if (o->flags & RINGO_TLS_REQUIRE_CLIENT_CERT)
		c->flags |= RINGO_TLS_VERIFY_CLIENT;
	c->server = o->flags & RINGO_TLS_SERVER;
	c->handshake_ns = o->handshake_timeout_ns ? o->handshake_timeout_ns : DEFAULT_HANDSHAKE_NS;
	c->ctx = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
	err = c->ctx ? 0 : -ENOMEM;
	if (!err)
		err = setup_protocol(c, o);
	if (!err && o->cert_file)
		err = load_pair(c->ctx, o->cert_file, o->key_file);
	if (!err)
		err = setup_peer_checks(c, o);
	if (err < 0) {
		ERR_clear_error();
		config_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void ringo_tls_config_ref(ringo_tls_config *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void ringo_tls_config_release(ringo_tls_config *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		config_free(c);
}

SSL *ringo__tls_ssl_new(ringo_tls_config *c)
{
	c->used = true;
	return SSL_new(c->ctx);
}
