/* examples/http_parse.c on its own: request heads, paths, ranges and
 * chunked bodies, table-driven. Every head is also fed one prefix at a
 * time (each prefix copied to a buffer of exactly its size, so ASan sees
 * any read past the end), and every chunked body split at every byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "support.h"

/* The tables leave trailing fields out: zero is their default. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* ---- request heads ---- */

#define OK 1 /* the head parses (its length is checked separately) */
#define R(s) s, sizeof(s) - 1 /* a literal and its length, NULs included */

struct head_case {
	const char *name;
	const char *req;
	size_t len;
	int want;               /* OK or the negative status */
	size_t body;            /* bytes after the head (not part of it) */
	enum http_method method;
	const char *path;       /* expected req.path (NULL: not checked) */
	int minor;
	bool keep_alive, chunked, has_length, expect;
	uint64_t length;
	const char *range;      /* expected Range value, NULL for none */
};

static const struct head_case heads[] = {
	{"simple GET", R("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), OK, 0, HTTP_GET, "/", 1, .keep_alive = true},
	{"HEAD", R("HEAD /a/b HTTP/1.1\r\n\r\n"), OK, 0, HTTP_HEAD, "/a/b", 1, .keep_alive = true},
	{"POST with length", R("POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"), OK, 5, HTTP_POST,
	 "/echo", 1, .keep_alive = true, .has_length = true, .length = 5},
	{"other method", R("DELETE /x HTTP/1.1\r\n\r\n"), OK, 0, HTTP_OTHER, "/x", 1, .keep_alive = true},
	{"HTTP/1.0 closes", R("GET / HTTP/1.0\r\n\r\n"), OK, 0, HTTP_GET, "/", 0},
	{"HTTP/1.0 keep-alive", R("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), OK, 0, HTTP_GET,
	 "/", 0, .keep_alive = true},
	{"Connection list with close", R("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n"), OK, 0,
	 HTTP_GET, "/", 1},
	{"HTTP/1.2 counts as 1.1", R("GET / HTTP/1.2\r\n\r\n"), OK, 0, HTTP_GET, "/", 1, .keep_alive = true},
	{"bare LF lines", R("GET /x HTTP/1.1\nHost: y\n\n"), OK, 0, HTTP_GET, "/x", 1, .keep_alive = true},
	{"bare LF, no headers", R("GET / HTTP/1.1\n\n"), OK, 0, HTTP_GET, "/", 1, .keep_alive = true},
	{"leading empty lines", R("\r\n\n\r\nGET / HTTP/1.1\r\n\r\n"), OK, 0, HTTP_GET, "/", 1, .keep_alive = true},
	{"extra CRLF after the head is not part of it", R("GET / HTTP/1.1\r\n\r\n\r\n"), OK, 2, HTTP_GET,
	 "/", 1, .keep_alive = true},
	{"pipelined request after", R("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), OK, 19, HTTP_GET,
	 "/a", 1, .keep_alive = true},
	{"HTAB and obs-text in a value", R("GET / HTTP/1.1\r\nX: a\tb\x80\xff\r\n\r\n"), OK, 0, HTTP_GET,
	 "/", 1, .keep_alive = true},
	{"value whitespace trimmed", R("GET / HTTP/1.1\r\nContent-Length: \t 7 \t\r\n\r\n1234567"), OK, 7,
	 HTTP_GET, "/", 1, .keep_alive = true, .has_length = true, .length = 7},
	{"largest length", R("GET / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n"), OK, 0,
	 HTTP_GET, "/", 1, .keep_alive = true, .has_length = true, .length = UINT64_MAX},
	{"chunked", R("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"), OK, 0, HTTP_POST, "/", 1,
	 .keep_alive = true, .chunked = true},
	{"chunked in a list with empty elements", R("POST / HTTP/1.1\r\nTransfer-Encoding: ,chunked,\r\n\r\n"),
	 OK, 0, HTTP_POST, "/", 1, .keep_alive = true, .chunked = true},
	{"expect 100-continue", R("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"),
	 OK, 0, HTTP_POST, "/", 1, .keep_alive = true, .has_length = true, .length = 1, .expect = true},
	{"expect ignored in 1.0", R("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), OK, 0, HTTP_POST,
	 "/", 0},
	{"range", R("GET /f HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n"), OK, 0, HTTP_GET, "/f", 1,
	 .keep_alive = true, .range = "bytes=0-9"},
	{"two ranges fields ignored", R("GET /f HTTP/1.1\r\nRange: bytes=0-9\r\nRange: bytes=1-2\r\n\r\n"),
	 OK, 0, HTTP_GET, "/f", 1, .keep_alive = true},
	{"absolute form", R("GET http://example.com/a?q HTTP/1.1\r\n\r\n"), OK, 0, HTTP_GET, "/a?q", 1,
	 .keep_alive = true},
	{"absolute form without path", R("GET HTTPS://example.com HTTP/1.1\r\n\r\n"), OK, 0, HTTP_GET, "/",
	 1, .keep_alive = true},
	{"target with query", R("GET /a%20b?x=1&y=/.. HTTP/1.1\r\n\r\n"), OK, 0, HTTP_GET,
	 "/a%20b?x=1&y=/..", 1, .keep_alive = true},

	{"NUL in a value", R("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), -400},
	{"control byte in a value", R("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n"), -400},
	{"DEL in a value", R("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), -400},
	{"bare CR in a header line", R("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"), -400},
	{"bare CR in the request line", R("GET /\r HTTP/1.1\r\n\r\n"), -400},
	{"CR CR LF", R("GET / HTTP/1.1\r\nHost: x\r\r\n\r\n"), -400},
	{"NUL in a name", R("GET / HTTP/1.1\r\nX\0: y\r\n\r\n"), -400},
	{"space before the colon", R("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), -400},
	{"space in a name", R("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), -400},
	{"empty name", R("GET / HTTP/1.1\r\n: x\r\n\r\n"), -400},
	{"no colon", R("GET / HTTP/1.1\r\nno colon here\r\n\r\n"), -400},
	{"folded line", R("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), -400},
	{"not http", R("this is not http\r\n\r\n"), -400},
	{"HTTP/0.9", R("GET /\r\n\r\n"), -400},
	{"bad method byte", R("G@T / HTTP/1.1\r\n\r\n"), -400},
	{"empty method", R(" / HTTP/1.1\r\n\r\n"), -400},
	{"two spaces", R("GET  / HTTP/1.1\r\n\r\n"), -400},
	{"trailing space", R("GET / HTTP/1.1 \r\n\r\n"), -400},
	{"bad version", R("GET / FOO/1.1\r\n\r\n"), -400},
	{"long version", R("GET / HTTP/1.10\r\n\r\n"), -400},
	{"HTTP/2.0", R("GET / HTTP/2.0\r\n\r\n"), -505},
	{"relative target", R("GET x HTTP/1.1\r\n\r\n"), -400},
	{"asterisk target", R("OPTIONS * HTTP/1.1\r\n\r\n"), -400},
	{"absolute form without host", R("GET http:///x HTTP/1.1\r\n\r\n"), -400},
	{"negative length", R("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"), -400},
	{"length with junk", R("POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"), -400},
	{"empty length", R("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n"), -400},
	{"length as a list", R("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"), -400},
	{"length twice", R("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), -400},
	{"length overflow", R("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"), -400},
	{"length and chunked (smuggling)",
	 R("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), -400},
	{"chunked and length (smuggling)",
	 R("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), -400},
	{"transfer-encoding in 1.0", R("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), -400},
	{"chunked not last", R("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), -400},
	{"chunked twice", R("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), -400},
	{"chunked twice in two fields",
	 R("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), -400},
	{"empty transfer-encoding", R("POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n"), -400},
	{"unknown coding", R("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), -501},
	{"unknown coding before chunked", R("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	 -501},
};

static void check_fields(const struct head_case *c, const struct http_request *r)
{
	assert_int_equal(r->method, c->method);
	if (c->path) {
		assert_int_equal(r->path_len, strlen(c->path));
		assert_memory_equal(r->path, c->path, r->path_len);
	}
	assert_int_equal(r->minor, c->minor);
	assert_int_equal(r->keep_alive, c->keep_alive);
	assert_int_equal(r->chunked, c->chunked);
	assert_int_equal(r->has_length, c->has_length);
	if (c->has_length)
		assert_true(r->content_length == c->length);
	assert_int_equal(r->expect_continue, c->expect);
	if (c->range) {
		assert_non_null(r->range);
		assert_int_equal(r->range_len, strlen(c->range));
		assert_memory_equal(r->range, c->range, r->range_len);
	} else {
		assert_null(r->range);
	}
}

static void test_heads_parse_as_the_table_says(void **state)
{
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		const struct head_case *c = &heads[i];
		size_t len = c->len;
		struct http_request r;
		int rc = http_parse_request(c->req, len, &r);
		if (c->want == OK ? rc != (int)(len - c->body) : rc != c->want)
			fail_msg("%s: got %d, want %d", c->name, rc, c->want == OK ? (int)(len - c->body) : c->want);
		if (c->want == OK) {
			assert_int_equal(r.head_len, len - c->body);
			check_fields(c, &r);
		}
	}
}

/* Every byte value at every position of field values of 1 to 24 bytes
 * (the value check goes eight bytes at a time): a control byte (below
 * 0x20 but tab, or 0x7f) anywhere is a 400, anything else is taken, with
 * the value trimmed of spaces and tabs at its ends. */
static void test_field_values_refuse_control_bytes_at_every_position(void **state)
{
	for (int len = 1; len <= 24; len++) {
		for (int at = 0; at < len; at++) {
			for (int b = 0; b < 256; b++) {
				if (b == '\r' || b == '\n')
					continue; /* they end the line: another case */
				char value[32], req[128];
				memset(value, 'v', (size_t)len);
				value[at] = (char)b;
				int n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nRange: ");
				memcpy(req + n, value, (size_t)len);
				n += len;
				n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n\r\n");
				struct http_request r;
				int rc = http_parse_request(req, (size_t)n, &r);
				bool control = (b < 0x20 && b != '\t') || b == 0x7f;
				if (control ? rc != -400 : rc != n)
					fail_msg("byte 0x%02x at %d of %d: got %d", b, at, len, rc);
				if (control)
					continue;
				bool blank = b == ' ' || b == '\t';
				size_t want = (size_t)len - (blank && (at == 0 || at == len - 1));
				if (len == 1 && blank)
					want = 0;
				assert_int_equal(r.range_len, want);
			}
		}
	}
}

/* Fed one prefix at a time, a head gives "more" until it is complete,
 * or an early error that is the final one; then the same result. */
static void test_heads_give_the_same_answer_at_every_prefix(void **state)
{
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		const struct head_case *c = &heads[i];
		size_t len = c->len;
		struct http_request full, r;
		int want = http_parse_request(c->req, len, &full);
		for (size_t k = 0; k <= len; k++) {
			char *buf = malloc(k ? k : 1);
			memcpy(buf, c->req, k);
			int rc = http_parse_request(buf, k, &r);
			bool complete = want > 0 && k >= (size_t)want;
			if (complete) {
				assert_int_equal(rc, want);
				check_fields(c, &r);
			} else if (rc != 0 && rc != (want > 0 ? 0 : want)) {
				fail_msg("%s: prefix %zu gives %d, the whole %d", c->name, k, rc, want);
			}
			free(buf);
		}
	}
}

static void test_long_targets_get_414_even_before_the_line_ends(void **state)
{
	static char req[12000];
	struct http_request r;
	for (size_t tlen = HTTP_TARGET_MAX - 1; tlen <= HTTP_TARGET_MAX + 1; tlen++) {
		int n = snprintf(req, sizeof(req), "GET /");
		memset(req + n, 'a', tlen - 1);
		n += (int)tlen - 1;
		n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\n\r\n");
		int rc = http_parse_request(req, (size_t)n, &r);
		if (tlen <= HTTP_TARGET_MAX)
			assert_int_equal(rc, n);
		else
			assert_int_equal(rc, -414);
	}
	/* A target longer than any head buffer, its line not ended yet. */
	memcpy(req, "GET /", 5);
	memset(req + 5, 'a', 10000);
	assert_int_equal(http_parse_request(req, 10005, &r), -414);
	assert_int_equal(http_parse_request(req, 5 + HTTP_TARGET_MAX - 1, &r), 0);
}

static void test_incomplete_heads_need_more(void **state)
{
	const char *more[] = {"", "\r", "\r\n", "\n\r\n", "G", "GET", "GET ", "GET /",
			      "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n",
			      "GET / HTTP/1.1\r\nHost: x", "GET / HTTP/1.1\r\nHost: x\r\n",
			      "GET / HTTP/1.1\r\nHost: x\r\n\r"};
	struct http_request r;
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		assert_int_equal(http_parse_request(more[i], strlen(more[i]), &r), 0);
}

/* ---- paths ---- */

static const struct {
	const char *in;
	int want;            /* length, or the negative status */
	const char *out;
} paths[] = {
	{"/", 0, ""},
	{"/a/b", 3, "a/b"},
	{"//etc/passwd", 10, "etc/passwd"},
	{"/%2F%2fetc", 3, "etc"},
	{"/a/./b/", 3, "a/b"},
	{"/a/../b", 1, "b"},
	{"/a/..", 0, ""},
	{"/a/b/../../c/", 1, "c"},
	{"/...", 3, "..."},
	{"/..a/a..", 7, "..a/a.."},
	{"/hello%20world?x=1", 11, "hello world"},
	{"/a?../../x", 1, "a"},
	{"/a#frag", 1, "a"},
	{"/%41%7e", 2, "A~"},
	{"/../etc/passwd", -400},
	{"/..", -400},
	{"/%2e%2e/etc/passwd", -400},
	{"/.%2E/x", -400},
	{"/..%2fetc/passwd", -400},
	{"/a/../../etc/passwd", -400},
	{"/a%2f..%2f..%2fb", -400},
	{"/./../x", -400},
	{"/hello.txt%00", -400},
	{"/%00/x", -400},
	{"/%zz", -400},
	{"/%4", -400},
	{"/a%2", -400},
	{"/%", -400},
	{"x", -400},
	{"", -400},
};

static void test_paths_are_decoded_and_kept_beneath_the_root(void **state)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char out[64];
		size_t n = strlen(paths[i].in);
		int rc = http_target_path(paths[i].in, n, out, n + 1);
		if (rc != paths[i].want)
			fail_msg("%s: got %d, want %d", paths[i].in, rc, paths[i].want);
		if (rc >= 0)
			assert_string_equal(out, paths[i].out);
	}
	/* A raw NUL inside the given length is refused too. */
	char out[16];
	assert_int_equal(http_target_path("/a\0b", 4, out, sizeof(out)), -400);
	/* Too small an output: 414, never an overflow. */
	assert_int_equal(http_target_path("/abcdef", 7, out, 4), -414);
}

/* ---- ranges ---- */

static const struct {
	const char *v;
	uint64_t size;
	int want;
	uint64_t first, last;
} ranges[] = {
	{"bytes=0-9", 100, 1, 0, 9},
	{"bytes=90-", 100, 1, 90, 99},
	{"bytes=-5", 100, 1, 95, 99},
	{"bytes=-500", 100, 1, 0, 99},
	{"bytes=0-999", 100, 1, 0, 99},
	{"bytes=99-99", 100, 1, 99, 99},
	{"BYTES=1-2", 100, 1, 1, 2},
	{"bytes= 1-2 ", 100, 1, 1, 2},
	{"items=0-5", 100, 0},
	{"bytes =1-2", 100, 0},
	{"bytes=0-1,5-6", 100, 0},
	{"bytes=100-", 100, -416},
	{"bytes=100-200", 100, -416},
	{"bytes=5-2", 100, -416},
	{"bytes=-0", 100, -416},
	{"bytes=abc", 100, -416},
	{"bytes=", 100, -416},
	{"bytes=-", 100, -416},
	{"bytes=1-2x", 100, -416},
	{"bytes=0-0", 0, -416},
	{"bytes=-1", 0, -416},
	{"bytes=99999999999999999999-", 100, -416},
	{"bytes=0-99999999999999999999", 100, -416},
};

static void test_ranges_single_satisfiable_unsatisfiable(void **state)
{
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint64_t first = 7, last = 7;
		int rc = http_parse_range(ranges[i].v, strlen(ranges[i].v), ranges[i].size, &first, &last);
		if (rc != ranges[i].want)
			fail_msg("%s: got %d, want %d", ranges[i].v, rc, ranges[i].want);
		if (rc == 1) {
			assert_true(first == ranges[i].first);
			assert_true(last == ranges[i].last);
		}
	}
}

/* ---- chunked bodies ---- */

struct chunk_case {
	const char *name;
	const char *in;
	uint64_t max;
	int want;             /* HTTP_CHUNK_DONE or the negative status */
	const char *body;     /* decoded, when DONE */
	size_t used;          /* bytes the body takes (the rest is the next request) */
};

static const struct chunk_case chunks[] = {
	{"one chunk", "5\r\nhello\r\n0\r\n\r\n", 100, HTTP_CHUNK_DONE, "hello", 15},
	{"two chunks and an extension", "5\r\nhello\r\n6;ext=\"v\"\r\n world\r\n0\r\n\r\n", 100,
	 HTTP_CHUNK_DONE, "hello world", 34},
	{"trailer fields", "3\r\nabc\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", 100, HTTP_CHUNK_DONE, "abc", 27},
	{"bare LF", "3\nabc\n0\n\n", 100, HTTP_CHUNK_DONE, "abc", 9},
	{"upper-case hex, leading zeros", "000A\r\n0123456789\r\n0\r\n\r\n", 100, HTTP_CHUNK_DONE,
	 "0123456789", 23},
	{"space before the extension", "3 ;x\r\nabc\r\n0\r\n\r\n", 100, HTTP_CHUNK_DONE, "abc", 16},
	{"next request after", "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 100, HTTP_CHUNK_DONE, "x",
	 11},
	{"exactly max", "4\r\nabcd\r\n0\r\n\r\n", 4, HTTP_CHUNK_DONE, "abcd", 14},
	{"empty body", "0\r\n\r\n", 0, HTTP_CHUNK_DONE, "", 5},
	{"no size", "\r\nabc\r\n", 100, -400},
	{"not hex", "x\r\n", 100, -400},
	{"only an extension", ";a\r\n", 100, -400},
	{"junk after the size", "3x\r\nabc\r\n", 100, -400},
	{"control byte in an extension", "3;\x01\r\nabc\r\n", 100, -400},
	{"no CRLF after the data", "3\r\nabcX\r\n0\r\n\r\n", 100, -400},
	{"bare CR after the data", "3\r\nabc\rX", 100, -400},
	{"bare CR in the size line", "3\rX\nabc\r\n", 100, -400},
	{"bad trailer", "0\r\nno colon\r\n\r\n", 100, -400},
	/* Found by fuzz_http: trailer fields are checked as fields, never
	 * read as the header section's framing (RFC 9110 6.5.1). */
	{"framing fields in trailers are not interpreted",
	 "0\r\nContent-Length:\r\nContent-Length: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 100,
	 HTTP_CHUNK_DONE, "", 78},
	{"one chunk over max", "5\r\nhello\r\n0\r\n\r\n", 4, -413},
	{"chunks over max together", "3\r\nabc\r\n4\r\nabcd\r\n0\r\n\r\n", 6, -413},
	{"size overflows 64 bits", "ffffffffffffffffffff\r\n", UINT64_MAX, -413},
};

/* Decode in as if it arrived in pieces: the first split bytes, then the
 * rest (split = len: all at once; step 1: a byte at a time). Returns the
 * final status; the body and bytes used through the out-parameters. */
static int decode(const char *in, size_t len, uint64_t max, size_t split, size_t step, char *body,
		  size_t *body_len, size_t *used_total)
{
	struct http_chunked ch = {.max = max};
	char *buf = malloc(len + 1);
	size_t have = 0, start = 0, arrived = split < len ? split : len;
	memcpy(buf, in, arrived);
	have = arrived;
	*body_len = 0;
	for (;;) {
		/* Only the bytes not consumed, in a buffer of exactly that size. */
		size_t n = have - start;
		char *view = malloc(n ? n : 1);
		memcpy(view, buf + start, n);
		size_t used, dlen;
		const char *data;
		int rc = http_chunked_step(&ch, view, n, &used, &data, &dlen);
		assert_true(used <= n);
		if (dlen) {
			assert_true(data >= view && data + dlen <= view + n);
			memcpy(body + *body_len, data, dlen);
			*body_len += dlen;
		}
		free(view);
		start += used;
		if (rc < 0 || rc == HTTP_CHUNK_DONE) {
			*used_total = start;
			free(buf);
			return rc;
		}
		if (rc == HTTP_CHUNK_MORE) {
			assert_int_equal(used, 0);
			if (arrived == len) {
				free(buf);
				*used_total = start;
				return HTTP_CHUNK_MORE;
			}
			size_t add = len - arrived < step ? len - arrived : step;
			memcpy(buf + have, in + arrived, add);
			arrived += add;
			have += add;
		}
	}
}

static void test_chunked_bodies_decode_the_same_at_every_split(void **state)
{
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		const struct chunk_case *c = &chunks[i];
		size_t len = strlen(c->in);
		char body[256];
		size_t blen, used;
		for (size_t split = 0; split <= len; split++) {
			for (size_t step = 1; step <= len; step = step == 1 ? len : len + 1) {
				int rc = decode(c->in, len, c->max, split, step, body, &blen, &used);
				if (rc != c->want)
					fail_msg("%s, split %zu step %zu: got %d, want %d", c->name, split,
						 step, rc, c->want);
				if (rc == HTTP_CHUNK_DONE) {
					assert_int_equal(blen, strlen(c->body));
					assert_memory_equal(body, c->body, blen);
					assert_int_equal(used, c->used);
				}
			}
		}
	}
}

static void test_chunk_lines_are_bounded(void **state)
{
	size_t len = HTTP_CHUNK_LINE_MAX + 10;
	char *in = malloc(len + 1);
	in[0] = '1';
	in[1] = ';';
	memset(in + 2, 'e', len - 2);
	in[len] = '\0';
	char body[8];
	size_t blen, used;
	/* Its line end never arrives: refused once the line is too long. */
	assert_int_equal(decode(in, len, 100, len, 1, body, &blen, &used), -400);
	/* A line of exactly the limit (LF included) is fine. */
	memcpy(in + HTTP_CHUNK_LINE_MAX - 2, "\r\nx\r\n0\r\n\r\n", 10);
	assert_int_equal(decode(in, HTTP_CHUNK_LINE_MAX + 8, 100, 0, 1, body, &blen, &used),
			 HTTP_CHUNK_DONE);
	assert_int_equal(blen, 1);
	free(in);
}

static void test_reason_phrases(void **state)
{
	assert_string_equal(http_reason(404), "Not Found");
	assert_string_equal(http_reason(414), "URI Too Long");
	assert_string_equal(http_reason(416), "Range Not Satisfiable");
	assert_string_equal(http_reason(999), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heads_parse_as_the_table_says),
		cmocka_unit_test(test_heads_give_the_same_answer_at_every_prefix),
		cmocka_unit_test(test_field_values_refuse_control_bytes_at_every_position),
		cmocka_unit_test(test_long_targets_get_414_even_before_the_line_ends),
		cmocka_unit_test(test_incomplete_heads_need_more),
		cmocka_unit_test(test_paths_are_decoded_and_kept_beneath_the_root),
		cmocka_unit_test(test_ranges_single_satisfiable_unsatisfiable),
		cmocka_unit_test(test_chunked_bodies_decode_the_same_at_every_split),
		cmocka_unit_test(test_chunk_lines_are_bounded),
		cmocka_unit_test(test_reason_phrases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
