/*
 * Fuzz target: examples/http_parse.c, every entry point from one input.
 *
 * Input: a mode byte, a knob byte, then the bytes to parse.
 *   'P'  the bytes are a request path: http_target_path
 *   'R'  the bytes are a Range value: http_parse_range
 *   'C'  the bytes are a chunked body: http_chunked_step
 *   else the bytes are a request: http_parse_request, then the path,
 *        Range and chunked body it carries, as the server goes on
 * The knob picks where the bytes are split (and, by its low bit, a small
 * body limit; for 'R', the resource size).
 *
 * Properties, beyond "no crash, no read outside what was given":
 *   - a head parsed from a prefix gives 0 or the final answer, and the
 *     same request once the prefix holds the head (the header's promise);
 *   - the request fields stay within the head and agree with each other;
 *   - a decoded path agrees with a plain reference implementation, has no
 *     "", "." or ".." segment, and never overflows a small output;
 *   - a chunked body decodes to the same bytes, the same status and the
 *     same length whether it arrives whole, split at the knob, or a byte
 *     at a time; every step makes progress and points inside its input;
 *   - a satisfiable range lies inside the resource.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_parse.h"

/* ---- request heads ---- */

static bool within(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

static void check_head(const char *in, size_t n, int rc, const struct http_request *r)
{
	if (rc <= 0) {
		FUZZ_CHECK(rc == 0 || rc == -400 || rc == -414 || rc == -501 || rc == -505);
		return;
	}
	size_t h = (size_t)rc;
	FUZZ_CHECK(h <= n && r->head_len == h && in[h - 1] == '\n');
	FUZZ_CHECK(r->method_len > 0 && within(r->method_name, r->method_len, in, h));
	FUZZ_CHECK(r->target_len > 0 && r->target_len <= HTTP_TARGET_MAX);
	FUZZ_CHECK(within(r->target, r->target_len, in, h));
	FUZZ_CHECK(r->path_len > 0 && r->path[0] == '/');
	FUZZ_CHECK(within(r->path, r->path_len, r->target, r->target_len) ||
		   (r->path_len == 1 && r->target[0] != '/'));
	FUZZ_CHECK(!r->range || within(r->range, r->range_len, in, h));
	FUZZ_CHECK(r->minor == 0 || r->minor == 1);
	FUZZ_CHECK(!r->chunked || (!r->has_length && r->minor == 1));
	FUZZ_CHECK(!r->expect_continue || r->minor == 1);
	FUZZ_CHECK((r->method == HTTP_GET) == (r->method_len == 3 && !memcmp(r->method_name, "GET", 3)));
	/* No NUL anywhere in a head, and a CR only right before its LF. */
	FUZZ_CHECK(!memchr(in, '\0', h));
	for (size_t i = 0; i < h; i++)
		FUZZ_CHECK(in[i] != '\r' || in[i + 1] == '\n');
}

/* The same request, parsed from two buffers holding the same bytes. */
static void check_same_request(const struct http_request *a, const char *abuf,
			       const struct http_request *b, const char *bbuf)
{
	FUZZ_CHECK(a->method == b->method && a->minor == b->minor);
	FUZZ_CHECK(a->keep_alive == b->keep_alive && a->chunked == b->chunked);
	FUZZ_CHECK(a->has_length == b->has_length && a->content_length == b->content_length);
	FUZZ_CHECK(a->expect_continue == b->expect_continue && a->head_len == b->head_len);
	FUZZ_CHECK(a->method_name - abuf == b->method_name - bbuf && a->method_len == b->method_len);
	FUZZ_CHECK(a->target - abuf == b->target - bbuf && a->target_len == b->target_len);
	FUZZ_CHECK(a->path_len == b->path_len && !memcmp(a->path, b->path, a->path_len));
	FUZZ_CHECK((a->range == NULL) == (b->range == NULL));
	FUZZ_CHECK(!a->range || (a->range - abuf == b->range - bbuf && a->range_len == b->range_len));
}

/* Parse the first k bytes alone (nothing after them readable) and hold the
 * answer against the whole input's. */
static void check_prefix(struct fuzz_window *w, size_t k, int whole, const struct http_request *wr)
{
	struct http_request r;
	fuzz_window_show(w, 0, k);
	int rc = http_parse_request(w->buf, k, &r);
	if (whole > 0 && k >= (size_t)whole) {
		FUZZ_CHECK(rc == whole);
		check_same_request(&r, w->buf, wr, w->buf);
	} else {
		/* "more", or the error the whole input ends in */
		FUZZ_CHECK(rc == 0 || (whole < 0 && rc == whole));
	}
}

/* ---- paths ---- */

static int hex_digit(char c)
{
	const char *digits = "0123456789abcdef";
	if (c >= 'A' && c <= 'F')
		c = (char)(c - 'A' + 'a');
	const char *at = c ? strchr(digits, c) : NULL;
	return at ? (int)(at - digits) : -1;
}

/* The reference: what http_parse.h says http_target_path does, written
 * the plain way (decode everything, then split and fold segments). */
static int reference_path(const char *p, size_t n, char *out)
{
	if (n == 0 || p[0] != '/')
		return -400;
	char *dec = malloc(n + 1);
	size_t d = 0;
	for (size_t i = 0; i < n && p[i] != '?' && p[i] != '#'; i++) {
		int ch = (unsigned char)p[i];
		if (ch == '%') {
			int hi = n - i >= 3 ? hex_digit(p[i + 1]) : -1;
			int lo = n - i >= 3 ? hex_digit(p[i + 2]) : -1;
			ch = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
			i += 2;
		}
		if (ch <= 0) { /* a bad escape, or a NUL raw or encoded */
			free(dec);
			return -400;
		}
		dec[d++] = (char)ch;
	}
	/* Segments onto a stack: out holds them joined by '/'. */
	size_t w = 0;
	for (size_t s = 0; s <= d;) {
		size_t e = s;
		while (e < d && dec[e] != '/')
			e++;
		size_t len = e - s;
		if (len == 2 && dec[s] == '.' && dec[s + 1] == '.') {
			if (w == 0) {
				free(dec);
				return -400;
			}
			char *slash = memrchr(out, '/', w);
			w = slash ? (size_t)(slash - out) : 0;
		} else if (len && !(len == 1 && dec[s] == '.')) {
			if (w)
				out[w++] = '/';
			memcpy(out + w, dec + s, len);
			w += len;
		}
		s = e + 1;
	}
	out[w] = '\0';
	free(dec);
	return (int)w;
}

/* The path in an output buffer of exactly cap bytes. */
static int path_into(const char *p, size_t n, size_t cap, char **out)
{
	*out = malloc(cap ? cap : 1);
	return http_target_path(p, n, *out, cap);
}

static void check_path(const char *p, size_t n, uint8_t knob)
{
	char *out, *ref = malloc(n + 1);
	int rc = path_into(p, n, n + 1, &out);
	int want = reference_path(p, n, ref);
	FUZZ_CHECK(rc == want);
	if (rc >= 0) {
		FUZZ_CHECK(strlen(out) == (size_t)rc && !strcmp(out, ref));
		/* Nothing the server would join to its root to climb out of it. */
		FUZZ_CHECK(out[0] != '/' && (rc == 0 || out[rc - 1] != '/') && !strstr(out, "//"));
		FUZZ_CHECK(strcmp(out, "..") && strncmp(out, "../", 3) && !strstr(out, "/../"));
		FUZZ_CHECK(strcmp(out, ".") && strncmp(out, "./", 2) && !strstr(out, "/./"));
		size_t rl = (size_t)rc;
		FUZZ_CHECK(!(rl >= 3 && !strcmp(out + rl - 3, "/..")) && !(rl >= 2 && !strcmp(out + rl - 2, "/.")));
	}
	/* A smaller output: the same answer, or 414, never a write past it. */
	char *small;
	size_t cap = fuzz_split(knob, n + 1);
	int src = path_into(p, n, cap, &small);
	FUZZ_CHECK(src == rc || src == -414 || (cap == 0 && src == -400));
	if (src >= 0)
		FUZZ_CHECK(!strcmp(small, out));
	/* A normal form is a fixed point (unless decoding made new escapes,
	 * queries or fragments of it). */
	if (rc >= 0 && !strpbrk(out, "%?#")) {
		size_t m = (size_t)rc + 1;
		char *again = malloc(m + 1), *out2;
		again[0] = '/';
		memcpy(again + 1, out, m);
		FUZZ_CHECK(path_into(again, m, m + 1, &out2) == rc && !strcmp(out2, out));
		free(out2);
		free(again);
	}
	free(small);
	free(out);
	free(ref);
}

/* ---- ranges ---- */

static void check_range(const char *v, size_t n, uint64_t size)
{
	uint64_t first = 0xdead, last = 0xbeef;
	int rc = http_parse_range(v, n, size, &first, &last);
	FUZZ_CHECK(rc == 1 || rc == 0 || rc == -416);
	if (rc == 1)
		FUZZ_CHECK(first <= last && last < size);
	else
		FUZZ_CHECK(first == 0xdead && last == 0xbeef);
}

/* A resource size from the knob: small ones around the ranges people
 * write, and the extremes. */
static uint64_t range_size(uint8_t knob)
{
	static const uint64_t big[] = {UINT64_MAX, UINT64_MAX - 1, 1ull << 32, 1000000};
	return knob >= 252 ? big[knob - 252] : knob;
}

/* ---- chunked bodies ---- */

struct decoded {
	int rc;          /* the last status: DONE, MORE (ran out) or an error */
	size_t used;     /* bytes consumed in all */
	char *body;      /* the decoded bytes */
	size_t body_len;
};

/* Decode in[0, n) as if it arrived first bytes at once, then step bytes
 * at a time; the decoder sees only the bytes arrived and not consumed. */
static void decode(const char *in, size_t n, uint64_t max, size_t first, size_t step,
		   struct decoded *d)
{
	struct http_chunked ch = {.max = max};
	struct fuzz_window w;
	fuzz_window_init(&w, in, n);
	d->body = malloc(n + 1);
	d->body_len = 0;
	size_t start = 0, arrived = first < n ? first : n;
	for (;;) {
		size_t avail = arrived - start, used, dlen;
		const char *data;
		fuzz_window_show(&w, start, arrived);
		int rc = http_chunked_step(&ch, w.buf + start, avail, &used, &data, &dlen);
		FUZZ_CHECK(used <= avail && dlen <= used);
		FUZZ_CHECK(rc == HTTP_CHUNK_STEP ? used > 0 : rc == HTTP_CHUNK_DONE || used == 0);
		FUZZ_CHECK(dlen == 0 || (rc == HTTP_CHUNK_STEP && data == w.buf + start));
		FUZZ_CHECK(ch.total <= max);
		memcpy(d->body + d->body_len, data ? data : "", dlen);
		d->body_len += dlen;
		start += used;
		d->rc = rc;
		if (rc == HTTP_CHUNK_MORE) {
			if (arrived == n)
				break;
			arrived = n - arrived < step ? n : arrived + step;
		} else if (rc != HTTP_CHUNK_STEP) {
			FUZZ_CHECK(rc == HTTP_CHUNK_DONE || rc == -400 || rc == -413);
			break;
		}
	}
	d->used = start;
	fuzz_window_free(&w);
}

/* The bytes a header field value or a chunk extension may hold. */
static bool field_byte(char c)
{
	return c == '\t' || ((unsigned char)c >= 0x20 && c != 0x7f);
}

/* A trailer field line (RFC 9110 5.5): token ":" value. */
static bool field_line(const char *p, size_t n)
{
	static const char *tchars = "!#$%&'*+-.^_`|~";
	size_t i = 0;
	while (i < n && p[i] && (isalnum((unsigned char)p[i]) || strchr(tchars, p[i])))
		i++;
	if (i == 0 || i == n || p[i] != ':')
		return false;
	while (++i < n)
		if (!field_byte(p[i]))
			return false;
	return true;
}

/* The reference: RFC 9112 7.1 over the whole input at once, with what
 * http_parse.h adds (bare LF line ends, OWS before an extension, lines of
 * at most HTTP_CHUNK_LINE_MAX bytes, trailers of at most twice that, the
 * max limit). Returns HTTP_CHUNK_DONE with the body and the bytes used,
 * HTTP_CHUNK_MORE if the input ends first, or -400 / -413. */
static int reference_chunked(const char *in, size_t n, uint64_t max, struct decoded *d)
{
	size_t pos = 0, trailer = 0;
	bool in_trailer = false;
	d->body_len = 0;
	for (;;) {
		const char *line = in + pos, *lf = memchr(line, '\n', n - pos);
		if (!lf || lf - line >= HTTP_CHUNK_LINE_MAX)
			return n - pos >= HTTP_CHUNK_LINE_MAX ? -400 : HTTP_CHUNK_MORE;
		size_t len = (size_t)(lf - line), cl = len && line[len - 1] == '\r' ? len - 1 : len;
		pos += len + 1;
		if (in_trailer) {
			if (cl == 0) {
				d->used = pos;
				return HTTP_CHUNK_DONE;
			}
			trailer += len + 1;
			if (trailer > 2 * HTTP_CHUNK_LINE_MAX || !field_line(line, cl))
				return -400;
			continue;
		}
		size_t i = 0;
		uint64_t size = 0;
		for (int h; i < cl && (h = hex_digit(line[i])) >= 0; i++) {
			if (size > (UINT64_MAX - (unsigned)h) / 16)
				return -413;
			size = size * 16 + (unsigned)h;
		}
		if (i == 0)
			return -400;
		while (i < cl && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i < cl && line[i] != ';')
			return -400;
		for (; i < cl; i++)
			if (!field_byte(line[i]))
				return -400;
		if (size > max - d->body_len)
			return -413;
		if (size == 0) {
			in_trailer = true;
			continue;
		}
		if (n - pos < size)
			return HTTP_CHUNK_MORE;
		memcpy(d->body + d->body_len, in + pos, size);
		d->body_len += size;
		pos += size;
		size_t end = pos < n && in[pos] == '\n' ? 1 : n - pos >= 2 && !memcmp(in + pos, "\r\n", 2) ? 2 : 0;
		if (end == 0)
			return pos == n || (n - pos == 1 && in[pos] == '\r') ? HTTP_CHUNK_MORE : -400;
		pos += end;
	}
}

static void check_chunked(const char *in, size_t n, uint8_t knob)
{
	uint64_t max = knob & 1 ? 64 : UINT64_MAX;
	struct decoded whole, split, bytes, ref = {.body = malloc(n + 1)};
	decode(in, n, max, n, n, &whole);
	decode(in, n, max, fuzz_split(knob, n), n, &split);
	decode(in, n, max, 0, 1, &bytes);
	FUZZ_CHECK(whole.body_len <= max);
	const struct decoded *other[] = {&split, &bytes};
	for (int i = 0; i < 2; i++) {
		FUZZ_CHECK(other[i]->rc == whole.rc && other[i]->used == whole.used);
		FUZZ_CHECK(other[i]->body_len == whole.body_len);
		FUZZ_CHECK(!memcmp(other[i]->body, whole.body, whole.body_len));
	}
	/* Against the reference: the same outcome, and on success the same
	 * body and length. (Which of 400 and 413 a body with two faults
	 * gets is not specified: any error matches any error.) */
	int want = reference_chunked(in, n, max, &ref);
	FUZZ_CHECK(want < 0 ? whole.rc < 0 : whole.rc == want);
	if (want == HTTP_CHUNK_DONE) {
		FUZZ_CHECK(whole.used == ref.used && whole.body_len == ref.body_len);
		FUZZ_CHECK(!memcmp(whole.body, ref.body, ref.body_len));
	}
	free(whole.body);
	free(split.body);
	free(bytes.body);
	free(ref.body);
}

/* ---- a request, as the server takes it ---- */

static void check_request(const char *in, size_t n, uint8_t knob)
{
	struct http_request r;
	int rc = http_parse_request(in, n, &r);
	check_head(in, n, rc, &r);
	struct fuzz_window w;
	fuzz_window_init(&w, in, n);
	struct http_request wr;
	fuzz_window_show(&w, 0, n);
	int wrc = http_parse_request(w.buf, n, &wr); /* the same, in the copy */
	FUZZ_CHECK(wrc == rc);
	check_prefix(&w, fuzz_split(knob, n), wrc, &wr);
	if (rc > 0) {
		check_prefix(&w, (size_t)rc, wrc, &wr);     /* exactly the head */
		check_prefix(&w, (size_t)rc - 1, wrc, &wr); /* all but its last LF */
	}
	fuzz_window_free(&w);
	if (rc <= 0)
		return;
	check_path(r.path, r.path_len, knob);
	if (r.range) {
		check_range(r.range, r.range_len, range_size(knob));
		check_range(r.range, r.range_len, 0);
	}
	if (r.chunked)
		check_chunked(in + rc, n - (size_t)rc, knob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0], knob = data[1];
	const char *in = (const char *)data + 2;
	size_t n = size - 2;
	switch (mode) {
	case 'P':
		check_path(in, n, knob);
		break;
	case 'R':
		check_range(in, n, range_size(knob));
		break;
	case 'C':
		check_chunked(in, n, knob);
		break;
	default:
		check_request(in, n, knob);
		break;
	}
	return 0;
}
