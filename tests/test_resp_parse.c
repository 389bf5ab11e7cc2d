/* examples/resp_parse.c on its own: requests table-driven, each fed whole,
 * split in two at every byte and a byte at a time, with the buffered bytes
 * moved to a fresh buffer of exactly their size before every call (the
 * parser keeps offsets, never pointers; ASan sees any read past the end). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp_parse.h"
#include "support.h"

/* The tables leave trailing fields out: zero is their default. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define R(s) s, sizeof(s) - 1 /* a literal and its length, NULs included */

struct resp_case {
	const char *name;
	const char *in;
	size_t len;
	uint64_t max_bulk;      /* 0: the default */
	int want;               /* RESP_DONE for all requests parsed, else the error */
	const char *requests;   /* what was parsed: args joined by '|', requests by ';' */
	size_t requests_len;
};

static const struct resp_case cases[] = {
	{"multibulk", R("*1\r\n$4\r\nPING\r\n"), 0, RESP_DONE, R("PING")},
	{"SET with an empty value", R("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), 0, RESP_DONE, R("SET|k|")},
	{"binary bulk holding CRLF", R("*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n"), 0, RESP_DONE, R("ECHO|a\r\nb")},
	{"bulk holding NUL", R("*1\r\n$3\r\na\0b\r\n"), 0, RESP_DONE, R("a\0b")},
	{"inline", R("PING\r\n"), 0, RESP_DONE, R("PING")},
	{"inline, bare LF", R("PING\n"), 0, RESP_DONE, R("PING")},
	{"inline, spaces and tabs", R("  SET\ta   b \r\n"), 0, RESP_DONE, R("SET|a|b")},
	{"empty inline line", R("\r\n"), 0, RESP_DONE, R("")},
	{"*0", R("*0\r\n"), 0, RESP_DONE, R("")},
	{"*-1", R("*-1\r\n"), 0, RESP_DONE, R("")},
	{"pipelined", R("*1\r\n$4\r\nPING\r\nGET k\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 0, RESP_DONE,
	 R("PING;GET|k;GET|k")},
	{"empty lines between requests", R("PING\r\n\r\n\r\nPING\r\n"), 0, RESP_DONE, R("PING;;;PING")},
	{"bulk at max", R("*1\r\n$3\r\nabc\r\n"), 3, RESP_DONE, R("abc")},

	{"bad count", R("*x\r\n"), 0, RESP_ERR_MBULK_LEN},
	{"count with a plus", R("*+1\r\n"), 0, RESP_ERR_MBULK_LEN},
	{"count with a leading zero", R("*01\r\n"), 0, RESP_ERR_MBULK_LEN},
	{"count without CR", R("*1\n$4\r\nPING\r\n"), 0, RESP_ERR_MBULK_LEN},
	{"empty count", R("*\r\n"), 0, RESP_ERR_MBULK_LEN},
	{"too many arguments", R("*1048577\r\n"), 0, RESP_ERR_MBULK_LEN},
	{"negative bulk length", R("*2\r\n$-1\r\n"), 0, RESP_ERR_BULK_LEN},
	{"bulk length with a leading zero", R("*1\r\n$01\r\na\r\n"), 0, RESP_ERR_BULK_LEN},
	{"bulk length without CR", R("*1\r\n$1\na\r\n"), 0, RESP_ERR_BULK_LEN},
	{"bulk over max", R("*1\r\n$4\r\n"), 3, RESP_ERR_BULK_LEN},
	{"bulk over the default max", R("*1\r\n$536870913\r\n"), 0, RESP_ERR_BULK_LEN},
	{"no dollar", R("*1\r\nPING\r\n"), 0, RESP_ERR_EXPECTED_DOLLAR},
	{"CR instead of dollar", R("*1\r\n\r\n"), 0, RESP_ERR_EXPECTED_DOLLAR},
	{"bulk not followed by CRLF", R("*1\r\n$4\r\nPINGxx"), 0, RESP_ERR_BULK_CRLF},
	{"bulk shorter than said", R("*1\r\n$5\r\nX\r\n+OK\r\n"), 0, RESP_ERR_BULK_CRLF},
	{"error after a good request", R("PING\r\n*1\r\nx"), 0, RESP_ERR_EXPECTED_DOLLAR, R("PING")},
};

/* Parse in as if it arrived in pieces: split bytes first, then step bytes
 * at a time. Appends what was parsed to out (see resp_case.requests). */
static int parse_all(const struct resp_case *c, size_t split, size_t step, char *out, size_t cap,
		     size_t *out_len, char *got)
{
	struct resp_parser p;
	resp_init(&p, c->max_bulk);
	size_t start = 0, arrived = split < c->len ? split : c->len, n = 0;
	int rc;
	out[0] = '\0';
	bool first = true;
	for (;;) {
		size_t have = arrived - start;
		char *view = malloc(have ? have : 1);
		memcpy(view, c->in + start, have);
		rc = resp_parse(&p, view, have);
		if (rc == RESP_DONE) {
			if (!first)
				out[n++] = ';';
			first = false;
			for (size_t i = 0; i < p.argc; i++) {
				assert_true(p.args[i].off + p.args[i].len <= p.pos);
				if (i)
					out[n++] = '|';
				assert_true(n + p.args[i].len < cap);
				memcpy(out + n, view + p.args[i].off, p.args[i].len);
				n += p.args[i].len;
			}
			start += p.pos;
			resp_next(&p);
		}
		free(view);
		if (rc < 0) {
			*got = p.got;
			break;
		}
		if (rc == RESP_MORE) {
			if (arrived == c->len)
				break;
			arrived += c->len - arrived < step ? c->len - arrived : step;
		}
	}
	out[n] = '\0';
	*out_len = n;
	resp_free(&p);
	return rc == RESP_MORE && start == c->len ? RESP_DONE : rc;
}

static void test_requests_parse_the_same_at_every_split(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct resp_case *c = &cases[i];
		char out[256], got = 0;
		size_t n;
		for (size_t split = 0; split <= c->len; split++) {
			for (size_t step = 1; step <= c->len; step = step == 1 ? c->len : c->len + 1) {
				int rc = parse_all(c, split, step, out, sizeof(out), &n, &got);
				if (rc != c->want)
					fail_msg("%s, split %zu step %zu: got %d, want %d", c->name, split,
						 step, rc, c->want);
				if (n != c->requests_len || (n && memcmp(out, c->requests, n) != 0))
					fail_msg("%s, split %zu step %zu: parsed \"%s\"", c->name, split, step,
						 out);
			}
		}
	}
}

static void test_big_bulk_says_how_much_it_needs(void **state)
{
	struct resp_parser p;
	resp_init(&p, 0);
	const char in[] = "*2\r\n$3\r\nSET\r\n$100000\r\nabc";
	assert_int_equal(resp_parse(&p, in, sizeof(in) - 1), RESP_MORE);
	/* Header 4, "$3" line 4, SET 5, "$100000" line 9, the bulk and CRLF. */
	assert_int_equal(p.need, 4 + 4 + 5 + 9 + 100000 + 2);
	/* The wait for it does not rescan: pos stays at the bulk. */
	assert_int_equal(p.pos, 4 + 4 + 5 + 9);
	resp_free(&p);
}

static void test_many_arguments_grow_the_array(void **state)
{
	size_t nargs = 5000, cap = nargs * 16 + 32, n = 0;
	char *in = malloc(cap);
	n += (size_t)snprintf(in + n, cap - n, "*%zu\r\n$3\r\nDEL\r\n", nargs + 1);
	for (size_t i = 0; i < nargs; i++)
		n += (size_t)snprintf(in + n, cap - n, "$%d\r\nk%zu\r\n", i < 10 ? 2 : i < 100 ? 3 : i < 1000 ? 4 : 5, i);
	struct resp_parser p;
	resp_init(&p, 0);
	assert_int_equal(resp_parse(&p, in, n), RESP_DONE);
	assert_int_equal(p.argc, nargs + 1);
	assert_int_equal(p.pos, n);
	assert_memory_equal(in + p.args[4321 + 1].off, "k4321", 5);
	resp_next(&p); /* frees the large array */
	assert_true(p.args == p.small);
	resp_free(&p);
	free(in);
}

static void test_lines_longer_than_64k_are_refused_however_they_arrive(void **state)
{
	size_t len = RESP_INLINE_MAX + 2;
	char *in = malloc(4 + len + 2); /* "*1\r\n", the line, CRLF */
	struct resp_parser p;
	/* An inline request, a count and a bulk length, each too long. */
	const struct {
		char first;
		int err;
	} kinds[] = {{'P', RESP_ERR_INLINE_TOO_BIG}, {'*', RESP_ERR_MBULK_TOO_BIG}, {'$', RESP_ERR_BULK_TOO_BIG}};
	for (size_t k = 0; k < 3; k++) {
		size_t off = 0;
		if (kinds[k].first == '$') {
			memcpy(in, "*1\r\n", 4);
			off = 4;
		}
		in[off] = kinds[k].first;
		memset(in + off + 1, '1', len - 1);
		/* Its end not arrived yet, or arrived: the same answer. */
		resp_init(&p, 0);
		assert_int_equal(resp_parse(&p, in, off + len), kinds[k].err);
		resp_free(&p);
		memcpy(in + off + len, "\r\n", 2);
		resp_init(&p, 0);
		assert_int_equal(resp_parse(&p, in, off + len + 2), kinds[k].err);
		resp_free(&p);
	}
	free(in);
}

static void test_error_texts_are_redis_and_one_line(void **state)
{
	struct resp_parser p;
	resp_init(&p, 0);
	char out[128];
	const struct {
		int err;
		const char *text;
	} texts[] = {
		{RESP_ERR_MBULK_LEN, "-ERR Protocol error: invalid multibulk length\r\n"},
		{RESP_ERR_BULK_LEN, "-ERR Protocol error: invalid bulk length\r\n"},
		{RESP_ERR_INLINE_TOO_BIG, "-ERR Protocol error: too big inline request\r\n"},
		{RESP_ERR_MBULK_TOO_BIG, "-ERR Protocol error: too big mbulk count string\r\n"},
		{RESP_ERR_BULK_TOO_BIG, "-ERR Protocol error: too big bulk count string\r\n"},
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		size_t n = resp_error_text(&p, texts[i].err, out, sizeof(out));
		assert_int_equal(n, strlen(texts[i].text));
		assert_string_equal(out, texts[i].text);
	}
	assert_int_equal(resp_parse(&p, "*1\r\nP", 5), RESP_ERR_EXPECTED_DOLLAR);
	resp_error_text(&p, RESP_ERR_EXPECTED_DOLLAR, out, sizeof(out));
	assert_string_equal(out, "-ERR Protocol error: expected '$', got 'P'\r\n");
	/* A CR or LF from the client is never echoed: it would end the line. */
	const char *bad[] = {"*1\r\n\r", "*1\r\n\n", "*1\r\n\0"};
	for (size_t i = 0; i < 3; i++) {
		resp_next(&p);
		assert_int_equal(resp_parse(&p, bad[i], 5), RESP_ERR_EXPECTED_DOLLAR);
		resp_error_text(&p, RESP_ERR_EXPECTED_DOLLAR, out, sizeof(out));
		assert_string_equal(out, "-ERR Protocol error: expected '$', got ' '\r\n");
	}
	resp_free(&p);
}

static void test_string2ll_is_redis_strict(void **state)
{
	const struct {
		const char *s;
		bool ok;
		long long v;
	} nums[] = {
		{"0", true, 0},
		{"7", true, 7},
		{"-7", true, -7},
		{"9223372036854775807", true, LLONG_MAX},
		{"-9223372036854775808", true, LLONG_MIN},
		{"9223372036854775808", false},
		{"-9223372036854775809", false},
		{"18446744073709551616", false},
		{"-0", false},
		{"01", false},
		{"+1", false},
		{" 1", false},
		{"1 ", false},
		{"1a", false},
		{"", false},
		{"-", false},
		{"000000000000000000001", false},
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		long long v = 12345;
		bool ok = resp_string2ll(nums[i].s, strlen(nums[i].s), &v);
		if (ok != nums[i].ok)
			fail_msg("\"%s\": got %d", nums[i].s, ok);
		if (ok)
			assert_true(v == nums[i].v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_parse_the_same_at_every_split),
		cmocka_unit_test(test_big_bulk_says_how_much_it_needs),
		cmocka_unit_test(test_many_arguments_grow_the_array),
		cmocka_unit_test(test_lines_longer_than_64k_are_refused_however_they_arrive),
		cmocka_unit_test(test_error_texts_are_redis_and_one_line),
		cmocka_unit_test(test_string2ll_is_redis_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
