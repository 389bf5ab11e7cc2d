/*
 * http_parse: the HTTP/1.1 request parsing of examples/http_server as pure
 * functions over bytes: no socket, no allocation, no global state, so the
 * tests (tests/test_http_parse.c) and a fuzzer call them directly.
 *
 * Errors are negative HTTP status codes (-400, -413, -414, -416, -501,
 * -505): the answer the server gives before it closes the connection.
 *
 * What is accepted (RFC 9112, as strict as nginx or stricter):
 *   - empty lines (CRLF or LF) before the request line are skipped;
 *   - lines end in CRLF or a bare LF; a CR anywhere else is an error;
 *   - request line: token SP target SP "HTTP/1.x", single spaces; the target
 *     is origin-form ("/path?query") or absolute-form ("http://host/path")
 *     of visible bytes, at most HTTP_TARGET_MAX of them (414 beyond);
 *   - header fields: token ":" value; no space before the colon, no folded
 *     lines, no control bytes (NUL, CR, ...) except HTAB in values;
 *   - Content-Length: digits, given once; Transfer-Encoding: exactly
 *     "chunked" (other codings: 501); both together: 400 (smuggling), and
 *     Transfer-Encoding in HTTP/1.0: 400;
 *   - Host is not required (nginx answers an HTTP/1.1 request without it
 *     with 400; this server has one site, so it does not look).
 */
#ifndef RINGO_EXAMPLES_HTTP_PARSE_H
#define RINGO_EXAMPLES_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest request target accepted; longer ones get 414. */
#define HTTP_TARGET_MAX 1023
/* The longest chunk-size line or trailer line of a chunked body. */
#define HTTP_CHUNK_LINE_MAX 4096

enum http_method { HTTP_OTHER, HTTP_GET, HTTP_HEAD, HTTP_POST };

struct http_request {
	enum http_method method;
	const char *method_name;  /* as sent, method_len bytes */
	size_t method_len;
	const char *target;       /* as sent (not decoded), target_len bytes */
	size_t target_len;
	const char *path;         /* the target's path and query: target itself in
				     origin-form, its tail in absolute-form */
	size_t path_len;
	int minor;                /* HTTP/1.minor: 0 or 1 (1.2-1.9 count as 1.1) */
	bool keep_alive;          /* the connection may stay open after the answer */
	bool chunked;             /* Transfer-Encoding: chunked */
	bool has_length;          /* Content-Length was given */
	uint64_t content_length;  /* valid if has_length */
	bool expect_continue;     /* Expect: 100-continue (HTTP/1.1 only) */
	const char *range;        /* Range value, range_len bytes; NULL if absent
				     or given more than once */
	size_t range_len;
	size_t head_len;          /* bytes of the head, leading empty lines and the
				     final empty line included */
};

/* Parse the request head at buf[0, len).
 * Returns the head's length (> 0, also in req->head_len) once it is
 * complete; 0 if more bytes are needed; or a negative status (-400, -414,
 * -501, -505). Fed a request one prefix at a time, it returns 0 or the
 * final answer for every prefix, never a different error. The pointers in
 * *req point into buf. The caller bounds the head's size: when its buffer
 * is full and this still returns 0, the answer is 431. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* The path to serve for a request's path (req->path): the query is
 * dropped, %XX escapes decoded, empty and "." segments removed and ".."
 * segments applied. Writes it without a leading '/' and NUL-terminated
 * ("" for the root) into out, which needs len + 1 bytes at most.
 * Returns its length, or -400 for a bad escape, an encoded NUL, a ".."
 * that would climb above the root or a path not starting with '/'. */
int http_target_path(const char *path, size_t len, char *out, size_t cap);

/* Interpret a Range header value for a resource of size bytes. Returns 1
 * with the byte range [*first, *last] for one satisfiable "bytes=" range;
 * 0 to answer with the whole resource (another unit, or several ranges);
 * -416 if the range is malformed or not satisfiable (as nginx). */
int http_parse_range(const char *v, size_t n, uint64_t size, uint64_t *first, uint64_t *last);

/* A chunked request body decoder: zero it, set max (the body size limit),
 * then call http_chunked_step until it returns HTTP_CHUNK_DONE. */
struct http_chunked {
	uint64_t max;       /* the decoded body may not exceed this: -413 */
	uint64_t total;     /* decoded body bytes so far */
	uint64_t left;      /* bytes of the current chunk's data still to come */
	size_t trailer;     /* bytes of trailer fields so far */
	int state;          /* where in the chunk grammar the next byte falls */
};

enum {
	HTTP_CHUNK_MORE = 0, /* more bytes needed: nothing was consumed */
	HTTP_CHUNK_STEP = 1, /* *used bytes consumed; *data_len body bytes at *data */
	HTTP_CHUNK_DONE = 2, /* the body ended; *used bytes consumed (the last ones) */
};

/* Take the next piece of a chunked body from buf[0, len): a size line, a
 * run of data (returned in *data / *data_len, pointing into buf), the CRLF
 * after the data, or a trailer line (trailer fields are checked as
 * fields and otherwise ignored: a Content-Length or Transfer-Encoding
 * there frames nothing). Returns HTTP_CHUNK_MORE,
 * HTTP_CHUNK_STEP, HTTP_CHUNK_DONE, -400 (malformed, or a line longer than
 * HTTP_CHUNK_LINE_MAX) or -413 (over max). */
int http_chunked_step(struct http_chunked *c, const char *buf, size_t len, size_t *used,
		      const char **data, size_t *data_len);

/* The reason phrase of a status code ("Not Found"); "Unknown" if none. */
const char *http_reason(int status);

#endif
