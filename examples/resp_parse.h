/*
 * resp_parse: the Redis protocol (RESP2) request parser of
 * examples/kv_server, over bytes: no socket, so the tests
 * (tests/test_resp_parse.c) and a fuzzer call it directly.
 *
 * A request is a multibulk ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n") or an inline
 * line ("GET k\r\n", words split at spaces and tabs; no quoting). Limits
 * and error texts are redis's (networking.c), with two differences: at
 * most RESP_MAX_ARGS arguments (redis 7 allows up to INT_MAX), and a bulk
 * must be followed by CRLF (redis skips two bytes unchecked).
 *
 * The parser keeps its place between calls, so a request that arrives in
 * pieces is scanned once, and a large bulk is waited for without being
 * rescanned. Arguments are offsets from the request's first byte: the
 * caller may move the buffered bytes between calls (compact, realloc) as
 * long as the request keeps its bytes, in order, from buf[0].
 */
#ifndef RINGO_EXAMPLES_RESP_PARSE_H
#define RINGO_EXAMPLES_RESP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_MAX_ARGS (1024 * 1024)                   /* a multibulk's count */
#define RESP_INLINE_MAX (64 * 1024)                   /* an inline or length line */
#define RESP_DEFAULT_MAX_BULK (512ull * 1024 * 1024)  /* redis proto-max-bulk-len */

enum {
	RESP_MORE = 0,             /* more bytes needed (p->need: how many in all, if known) */
	RESP_DONE = 1,             /* a request: p->argc args, p->pos bytes */
	RESP_ERR_NOMEM = -1,       /* the argument array could not grow */
	RESP_ERR_INLINE_TOO_BIG = -2,
	RESP_ERR_MBULK_TOO_BIG = -3,
	RESP_ERR_MBULK_LEN = -4,
	RESP_ERR_BULK_TOO_BIG = -5,
	RESP_ERR_EXPECTED_DOLLAR = -6,
	RESP_ERR_BULK_LEN = -7,
	RESP_ERR_BULK_CRLF = -8,
};

struct resp_arg {
	size_t off, len;           /* the argument is buf[off, off + len) */
};

struct resp_parser {
	uint64_t max_bulk;         /* a longer bulk is an error (RESP_ERR_BULK_LEN) */
	/* The request parsed so far. */
	struct resp_arg *args;     /* argc of them; small[] or malloc'd (args_cap) */
	size_t argc, args_cap;
	size_t pos;                /* bytes of the request consumed by the parse */
	size_t need;               /* on RESP_MORE: the buffered bytes needed to go
				      on, or 0 if unknown (a line still coming) */
	size_t scanned;            /* bytes after pos already searched for a line end */
	long long nargs;           /* arguments announced by '*'; 0: not a multibulk yet */
	long long bulk;            /* length announced by '$'; -1 before the '$' line */
	char got;                  /* with RESP_ERR_EXPECTED_DOLLAR: the byte found */
	struct resp_arg small[8];  /* argument storage for small requests */
};

/* Ready p for a first request; max_bulk 0 means RESP_DEFAULT_MAX_BULK. */
void resp_init(struct resp_parser *p, uint64_t max_bulk);
/* Parse the request starting at buf[0], len bytes buffered, resuming where
 * the previous call stopped. Returns RESP_DONE (the request has p->argc
 * arguments at buf + p->args[i].off and takes p->pos bytes; an empty
 * request, argc 0, is to be skipped), RESP_MORE, or a RESP_ERR_* (then
 * answer resp_error_text and close). Never reads outside buf[0, len). */
int resp_parse(struct resp_parser *p, const char *buf, size_t len);
/* Ready p for the next request after RESP_DONE; a large argument array
 * is freed. */
void resp_next(struct resp_parser *p);
void resp_free(struct resp_parser *p);

/* The reply for err, "-ERR Protocol error: ...\r\n", into out (80 bytes
 * suffice); returns its length. */
size_t resp_error_text(const struct resp_parser *p, int err, char *out, size_t cap);

/* Redis's string2ll: a decimal integer with no sign but '-', no leading
 * zeros, spaces or '+', within long long. */
bool resp_string2ll(const char *s, size_t n, long long *out);

#endif
