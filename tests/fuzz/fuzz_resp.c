/*
 * Fuzz target: examples/resp_parse.c, a pipeline of requests.
 *
 * Input: a limit byte, a knob byte, then the bytes a client sends.
 *   limit: below 0x80 the default bulk limit; 0xff no limit (UINT64_MAX);
 *          else (limit - 0x80) bytes (0: the default)
 *   knob:  where the bytes are split
 *
 * The bytes are parsed as kv_server does: request after request, each
 * from its first byte, until an error or the end. That runs three times:
 * all bytes at once, the knob's prefix then the rest, and one byte at a
 * time; the three transcripts (every request's arguments and length, the
 * final status, the bytes consumed) must be equal. Between calls the
 * buffered bytes move to another buffer (the parser keeps offsets, never
 * pointers, so the header allows it), and only the bytes given are
 * readable (fuzz_window). Also checked on every call: arguments lie
 * inside the request, a request takes at least one byte, a "need" is
 * more than what is there and is honoured (fewer bytes get RESP_MORE
 * again), and an error's reply text is one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "resp_parse.h"

/* What a run parsed, as bytes to compare. */
struct transcript {
	char *buf;
	size_t len, cap;
	int rc;          /* the last status: RESP_MORE at the end, or an error */
	char got;        /* with RESP_ERR_EXPECTED_DOLLAR: the byte it names */
	size_t consumed; /* bytes of the requests parsed */
};

static void put(struct transcript *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2;
		t->buf = realloc(t->buf, t->cap);
		FUZZ_CHECK(t->buf != NULL);
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* A request parsed from buf (its first byte): check it and write it down. */
static void record(struct transcript *t, const struct resp_parser *p, const char *buf, size_t have)
{
	FUZZ_CHECK(p->pos > 0 && p->pos <= have);
	FUZZ_CHECK(p->argc <= RESP_MAX_ARGS);
	bool inline_request = buf[0] != '*';
	put(t, &p->argc, sizeof(p->argc));
	for (size_t i = 0; i < p->argc; i++) {
		const struct resp_arg *a = &p->args[i];
		FUZZ_CHECK(a->off <= p->pos && a->len <= p->pos - a->off);
		if (inline_request) {
			/* words: not empty, no white space or line end inside */
			FUZZ_CHECK(a->len > 0);
			for (size_t j = 0; j < a->len; j++)
				FUZZ_CHECK(!is_space(buf[a->off + j]) && buf[a->off + j] != '\n');
		} else {
			/* a bulk: "$<len>\r\n" before it, CRLF after it */
			FUZZ_CHECK(a->off + a->len + 2 <= p->pos && buf[a->off - 1] == '\n');
			FUZZ_CHECK(buf[a->off + a->len] == '\r' && buf[a->off + a->len + 1] == '\n');
		}
		put(t, &a->len, sizeof(a->len));
		put(t, buf + a->off, a->len);
	}
	put(t, &p->pos, sizeof(p->pos));
}

static void check_error_text(const struct resp_parser *p, int rc)
{
	char out[80];
	size_t n = resp_error_text(p, rc, out, sizeof(out));
	FUZZ_CHECK(n >= 7 && n < sizeof(out) && out[n] == '\0' && !memcmp(out, "-ERR ", 5));
	FUZZ_CHECK(out[n - 2] == '\r' && out[n - 1] == '\n');
	FUZZ_CHECK(strcspn(out, "\r\n") == n - 2);
}

/* Parse in[0, n) arriving first bytes at once, then step at a time. */
static void parse(const char *in, size_t n, uint64_t max_bulk, size_t first, size_t step,
		  struct transcript *t)
{
	struct resp_parser p;
	resp_init(&p, max_bulk);
	struct fuzz_window win[2];
	fuzz_window_init(&win[0], in, n);
	fuzz_window_init(&win[1], in, n);
	size_t start = 0, arrived = first < n ? first : n;
	size_t need_at = 0; /* a "need" given: fewer arrived bytes get MORE */
	unsigned calls = 0;
	int rc;
	memset(t, 0, sizeof(*t));
	for (;;) {
		/* The bytes of the request so far, in the other buffer than the
		 * last call's. */
		struct fuzz_window *w = &win[calls++ & 1];
		size_t have = arrived - start;
		fuzz_window_show(w, start, arrived);
		const char *buf = w->buf + start;
		rc = resp_parse(&p, buf, have);
		FUZZ_CHECK(p.pos <= have);
		FUZZ_CHECK(arrived >= need_at || rc == RESP_MORE);
		if (rc == RESP_DONE) {
			record(t, &p, buf, have);
			start += p.pos;
			need_at = 0;
			resp_next(&p);
			continue;
		}
		if (rc != RESP_MORE)
			break;
		FUZZ_CHECK(p.need == 0 || p.need > have);
		need_at = p.need ? start + p.need : 0;
		if (arrived == n)
			break;
		arrived = n - arrived < step ? n : arrived + step;
	}
	if (rc < 0) {
		FUZZ_CHECK(rc >= RESP_ERR_BULK_CRLF);
		check_error_text(&p, rc);
		t->got = rc == RESP_ERR_EXPECTED_DOLLAR ? p.got : 0;
	}
	t->rc = rc;
	t->consumed = start;
	resp_free(&p);
	fuzz_window_free(&win[0]);
	fuzz_window_free(&win[1]);
}

static void check_same(const struct transcript *a, const struct transcript *b)
{
	FUZZ_CHECK(a->rc == b->rc && a->got == b->got && a->consumed == b->consumed);
	FUZZ_CHECK(a->len == b->len && (a->len == 0 || !memcmp(a->buf, b->buf, a->len)));
}

static uint64_t max_bulk_of(uint8_t limit)
{
	if (limit < 0x80)
		return 0;
	return limit == 0xff ? UINT64_MAX : limit - 0x80u;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint64_t max_bulk = max_bulk_of(data[0]);
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	struct transcript whole, split, bytes;
	parse(in, n, max_bulk, n, n, &whole);
	parse(in, n, max_bulk, fuzz_split(data[1], n), n, &split);
	parse(in, n, max_bulk, 0, 1, &bytes);
	check_same(&whole, &split);
	check_same(&whole, &bytes);
	free(whole.buf);
	free(split.buf);
	free(bytes.buf);
	return 0;
}
