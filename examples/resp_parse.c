/*
 * resp_parse: Redis protocol requests, parsed from bytes (see resp_parse.h).
 */
#include "resp_parse.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_ARGS (sizeof(((struct resp_parser *)0)->small) / sizeof(struct resp_arg))
/* resp_next keeps an argument array up to this size for the next request. */
#define KEEP_ARGS 1024

void resp_init(struct resp_parser *p, uint64_t max_bulk)
{
	memset(p, 0, sizeof(*p));
	p->max_bulk = max_bulk ? max_bulk : RESP_DEFAULT_MAX_BULK;
	p->args = p->small;
	p->args_cap = SMALL_ARGS;
	p->bulk = -1;
}

void resp_next(struct resp_parser *p)
{
	if (p->args != p->small && p->args_cap > KEEP_ARGS) {
		free(p->args);
		p->args = p->small;
		p->args_cap = SMALL_ARGS;
	}
	p->argc = 0;
	p->pos = 0;
	p->need = 0;
	p->scanned = 0;
	p->nargs = 0;
	p->bulk = -1;
}

void resp_free(struct resp_parser *p)
{
	if (p->args != p->small)
		free(p->args);
	p->args = p->small;
	p->args_cap = SMALL_ARGS;
}

bool resp_string2ll(const char *s, size_t n, long long *out)
{
	if (n == 0 || n > 20)
		return false;
	if (n == 1 && s[0] == '0') {
		*out = 0;
		return true;
	}
	size_t i = s[0] == '-';
	if (i == n || s[i] < '1' || s[i] > '9')
		return false; /* "-", a leading zero, '+', a space */
	unsigned long long v = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (s[0] == '-') {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return false;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return false;
		*out = (long long)v;
	}
	return true;
}

static bool push_arg(struct resp_parser *p, size_t off, size_t len)
{
	if (p->argc == p->args_cap) {
		size_t cap = p->args_cap * 2;
		struct resp_arg *a = p->args == p->small ? malloc(cap * sizeof(*a))
							 : realloc(p->args, cap * sizeof(*a));
		if (!a)
			return false;
		if (p->args == p->small)
			memcpy(a, p->small, sizeof(p->small));
		p->args = a;
		p->args_cap = cap;
	}
	p->args[p->argc++] = (struct resp_arg){off, len};
	return true;
}

/* The line at buf[p->pos]: sets *n to its length before the LF and
 * returns 1, or RESP_MORE, or too_big if it is (or will be) longer than
 * RESP_INLINE_MAX, whether or not its end has arrived: the answer must not
 * depend on how the bytes were split. */
static int find_line(struct resp_parser *p, const char *buf, size_t len, size_t *n, int too_big)
{
	size_t from = p->pos + p->scanned;
	const char *nl = memchr(buf + from, '\n', len - from);
	if (!nl) {
		p->scanned = len - p->pos;
		return p->scanned > RESP_INLINE_MAX ? too_big : RESP_MORE;
	}
	*n = (size_t)(nl - (buf + p->pos));
	p->scanned = 0;
	return *n > RESP_INLINE_MAX ? too_big : 1;
}

/* "*<count>\r\n" or "$<len>\r\n" at buf[p->pos]: the number, in *v.
 * 1, RESP_MORE, too_big, or bad (no CR before the LF, not a number). */
static int length_line(struct resp_parser *p, const char *buf, size_t len, long long *v,
		       int too_big, int bad)
{
	size_t n;
	int rc = find_line(p, buf, len, &n, too_big);
	if (rc != 1)
		return rc;
	const char *s = buf + p->pos;
	if (n < 2 || s[n - 1] != '\r' || !resp_string2ll(s + 1, n - 2, v))
		return bad;
	p->pos += n + 1;
	return 1;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* An inline request: one line, words split at white space. */
static int parse_inline(struct resp_parser *p, const char *buf, size_t len)
{
	size_t n;
	int rc = find_line(p, buf, len, &n, RESP_ERR_INLINE_TOO_BIG);
	if (rc != 1)
		return rc;
	size_t start = p->pos, end = p->pos + n;
	for (size_t i = start; i < end;) {
		while (i < end && is_space(buf[i]))
			i++;
		size_t w = i;
		while (i < end && !is_space(buf[i]))
			i++;
		if (i > w && !push_arg(p, w, i - w))
			return RESP_ERR_NOMEM;
	}
	p->pos = end + 1;
	return RESP_DONE;
}

/* The next bulk of a multibulk: its "$<len>" line, then its bytes. */
static int parse_bulk(struct resp_parser *p, const char *buf, size_t len)
{
	if (p->bulk < 0) {
		if (p->pos >= len)
			return RESP_MORE;
		if (buf[p->pos] != '$') {
			p->got = buf[p->pos];
			return RESP_ERR_EXPECTED_DOLLAR;
		}
		long long v;
		int rc = length_line(p, buf, len, &v, RESP_ERR_BULK_TOO_BIG, RESP_ERR_BULK_LEN);
		if (rc != 1)
			return rc;
		if (v < 0 || (unsigned long long)v > p->max_bulk)
			return RESP_ERR_BULK_LEN;
		p->bulk = v;
	}
	size_t end = p->pos + (size_t)p->bulk + 2;
	if (len < end) {
		p->need = end;
		return RESP_MORE;
	}
	if (buf[end - 2] != '\r' || buf[end - 1] != '\n')
		return RESP_ERR_BULK_CRLF;
	if (!push_arg(p, p->pos, (size_t)p->bulk))
		return RESP_ERR_NOMEM;
	p->pos = end;
	p->bulk = -1;
	return 1;
}

int resp_parse(struct resp_parser *p, const char *buf, size_t len)
{
	p->need = 0;
	if (p->nargs == 0) {
		if (p->pos >= len)
			return RESP_MORE;
		if (buf[p->pos] != '*')
			return parse_inline(p, buf, len);
		long long count;
		int rc = length_line(p, buf, len, &count, RESP_ERR_MBULK_TOO_BIG, RESP_ERR_MBULK_LEN);
		if (rc != 1)
			return rc;
		if (count > RESP_MAX_ARGS)
			return RESP_ERR_MBULK_LEN;
		if (count <= 0)
			return RESP_DONE; /* "*0", "*-1": nothing to do (as redis) */
		p->nargs = count;
	}
	while (p->argc < (size_t)p->nargs) {
		int rc = parse_bulk(p, buf, len);
		if (rc != 1)
			return rc;
	}
	return RESP_DONE;
}

size_t resp_error_text(const struct resp_parser *p, int err, char *out, size_t cap)
{
	const char *what;
	char got[40];
	switch (err) {
	case RESP_ERR_NOMEM: what = "out of memory"; break;
	case RESP_ERR_INLINE_TOO_BIG: what = "Protocol error: too big inline request"; break;
	case RESP_ERR_MBULK_TOO_BIG: what = "Protocol error: too big mbulk count string"; break;
	case RESP_ERR_MBULK_LEN: what = "Protocol error: invalid multibulk length"; break;
	case RESP_ERR_BULK_TOO_BIG: what = "Protocol error: too big bulk count string"; break;
	case RESP_ERR_BULK_LEN: what = "Protocol error: invalid bulk length"; break;
	case RESP_ERR_BULK_CRLF: what = "Protocol error: expected CRLF after bulk data"; break;
	case RESP_ERR_EXPECTED_DOLLAR: {
		/* The byte comes from the client: never a CR or LF (it would end
		 * the reply line early) or a NUL. */
		char ch = p->got == '\r' || p->got == '\n' || p->got == '\0' ? ' ' : p->got;
		snprintf(got, sizeof(got), "Protocol error: expected '$', got '%c'", ch);
		what = got;
		break;
	}
	default: what = "Protocol error"; break;
	}
	int n = snprintf(out, cap, "-ERR %s\r\n", what);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
