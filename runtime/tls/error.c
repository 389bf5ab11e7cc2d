/*
 * TLS errors: negative errnos with OpenSSL's text (the bottom of the TLS
 * files: config.c, transport.c and tls.c all report through it).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls_internal.h"

/* The calling thread's last TLS error text (ringo_tls_last_error). */
__thread char ringo__tls_last_err[200];

void ringo__tls_set_text(struct tls_conn *tc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ringo__tls_last_err, sizeof(ringo__tls_last_err), fmt, ap);
	va_end(ap);
	if (tc)
		snprintf(tc->err, sizeof(tc->err), "%s", ringo__tls_last_err);
}

const char *ringo_tls_last_error(void)
{
	return ringo__tls_last_err;
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
