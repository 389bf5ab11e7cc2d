/*
 * http_parse: HTTP/1.1 request heads, request paths, Range values and
 * chunked bodies, parsed from bytes (see http_parse.h).
 *
 * The head parser keeps no state between calls: the server calls it again
 * on the whole buffer when more bytes arrive. A head is at most a few KiB,
 * and each call is one pass over it, so this costs less than keeping a
 * resumable state machine correct.
 */
#include "http_parse.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2 tchar: what method names and header names are made of. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
	['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static bool is_tchar(char ch)
{
	return tchar[(unsigned char)ch];
}

/* A byte of a request target: visible ASCII, or obs-text (UTF-8 paths
 * arrive unescaped from some clients; nginx takes them too). */
static bool is_target_char(char ch)
{
	unsigned char u = (unsigned char)ch;
	return (u > 0x20 && u < 0x7f) || u >= 0x80;
}

/* A byte of a field value: visible, obs-text, SP or HTAB; never NUL, CR,
 * LF or another control byte. */
static bool is_field_char(char ch)
{
	unsigned char u = (unsigned char)ch;
	return u == '\t' || (u >= 0x20 && u != 0x7f);
}

/* Where the field-value bytes of [p, end) stop: end if all are. Eight
 * bytes a step while none is a control byte (below 0x20, or 0x7f); a
 * word holding one, a tab among them, is looked at byte by byte. Every
 * request has a few header values, and this was most of the parser's
 * instructions checked one byte at a time. */
static const char *field_chars_end(const char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	while (end - p >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		/* Nonzero iff some byte is below 0x20 (bytes >= 0x80 never
		 * count), or some byte is 0x7f (zero after the xor). */
		uint64_t low = (x - ones * 0x20) & ~x & highs;
		uint64_t y = x ^ (ones * 0x7f);
		uint64_t del = (y - ones) & ~y & highs;
		if (low | del)
			break;
		p += 8;
	}
	while (p < end && is_field_char(*p))
		p++;
	return p;
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool lower_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* The line at p, up to end: its content [p, *cend) without the CR LF or
 * LF that ends it, and where the next line starts. false if no LF yet. */
static bool next_line(const char *p, const char *end, const char **cend, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return false;
	*next = nl + 1;
	*cend = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return true;
}

/* ---- the request line ---- */

/* Where the path of an absolute-form target ("http://host/p?q") starts. */
static int absolute_form_path(struct http_request *r)
{
	const char *t = r->target, *end = r->target + r->target_len;
	size_t skip;
	if (r->target_len > 7 && !strncasecmp(t, "http://", 7))
		skip = 7;
	else if (r->target_len > 8 && !strncasecmp(t, "https://", 8))
		skip = 8;
	else
		return -400;
	const char *host = t + skip, *p = host;
	while (p < end && *p != '/' && *p != '?')
		p++;
	if (p == host)
		return -400; /* no authority */
	if (p == end || *p == '?') {
		r->path = "/"; /* "http://host" and "http://host?q" ask for "/" */
		r->path_len = 1;
	} else {
		r->path = p;
		r->path_len = (size_t)(end - p);
	}
	return 1;
}

static void classify_method(struct http_request *r)
{
	const char *m = r->method_name;
	size_t n = r->method_len;
	if (n == 3 && !memcmp(m, "GET", 3))
		r->method = HTTP_GET;
	else if (n == 4 && !memcmp(m, "HEAD", 4))
		r->method = HTTP_HEAD;
	else if (n == 4 && !memcmp(m, "POST", 4))
		r->method = HTTP_POST;
	else
		r->method = HTTP_OTHER;
}

/* The request line's content [p, end); complete is false while its LF has
 * not arrived, and then only what is there is checked (left to right, as
 * the complete line will be, so an early error is the final one).
 * 1: parsed; 0: more needed; <0: the status to answer. */
static int parse_request_line(const char *p, const char *end, bool complete,
			      struct http_request *r)
{
	const char *m = p;
	while (p < end && is_tchar(*p))
		p++;
	if (p == end)
		return complete ? -400 : 0;
	if (*p != ' ' || p == m)
		return -400;
	r->method_name = m;
	r->method_len = (size_t)(p - m);
	const char *t = ++p;
	while (p < end && is_target_char(*p)) {
		p++;
		if ((size_t)(p - t) > HTTP_TARGET_MAX)
			return -414;
	}
	if (p == end)
		return complete ? -400 : 0;
	if (*p != ' ' || p == t)
		return -400;
	r->target = t;
	r->target_len = (size_t)(p - t);
	p++;
	if (!complete)
		return 0;
	if (end - p != 8 || memcmp(p, "HTTP/", 5) || p[5] < '0' || p[5] > '9' || p[6] != '.' ||
	    p[7] < '0' || p[7] > '9')
		return -400;
	if (p[5] != '1')
		return -505;
	r->minor = p[7] == '0' ? 0 : 1;
	classify_method(r);
	if (t[0] == '/') {
		r->path = t;
		r->path_len = r->target_len;
		return 1;
	}
	return absolute_form_path(r);
}

/* ---- header fields ---- */

/* What the fields said, checked together once the head is complete. */
struct fields {
	int lengths;           /* Content-Length fields seen */
	bool te;               /* a Transfer-Encoding field was seen */
	bool te_chunked;       /* "chunked" was among its codings */
	bool te_chunked_last;  /* ... and the last one */
	bool te_other;         /* another coding was among them */
	int te_error;          /* a malformed coding list: -400 */
	bool conn_close, conn_keep_alive;
	int ranges;
};

static int parse_content_length(const char *v, size_t n, struct http_request *r, struct fields *f)
{
	if (++f->lengths > 1 || n == 0)
		return -400; /* twice, even with equal values (as nginx) */
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -400;
		unsigned d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -400;
		x = x * 10 + d;
	}
	r->has_length = true;
	r->content_length = x;
	return 0;
}

/* Call fn on each element of a comma-separated list (OWS trimmed, empty
 * elements skipped, as RFC 9110 5.6.1 asks of recipients). */
static void each_element(const char *v, size_t n, void (*fn)(const char *, size_t, struct fields *),
			 struct fields *f)
{
	size_t i = 0;
	while (i < n) {
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (s < e && is_ows(v[s]))
			s++;
		while (e > s && is_ows(v[e - 1]))
			e--;
		if (e > s)
			fn(v + s, e - s, f);
		i++;
	}
}

static void te_coding(const char *c, size_t n, struct fields *f)
{
	if (lower_is(c, n, "chunked")) {
		if (f->te_chunked)
			f->te_error = -400; /* chunked twice */
		f->te_chunked = f->te_chunked_last = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_tchar(c[i]) && c[i] != ';' && c[i] != '=' && !is_ows(c[i]) && c[i] != '"')
			f->te_error = -400;
	f->te_other = true;
	f->te_chunked_last = false;
}

static void connection_option(const char *c, size_t n, struct fields *f)
{
	if (lower_is(c, n, "close"))
		f->conn_close = true;
	else if (lower_is(c, n, "keep-alive"))
		f->conn_keep_alive = true;
}

/* The syntax of one field line [p, end) (not empty): name ":" OWS value
 * OWS. The name and the trimmed value, or false if malformed. */
static bool split_field(const char *p, const char *end, const char **name, size_t *nlen,
			const char **value, size_t *vlen)
{
	*name = p;
	while (p < end && is_tchar(*p))
		p++;
	if (p == *name || p == end || *p != ':')
		return false; /* also a folded line, or space before the colon */
	*nlen = (size_t)(p - *name);
	p++;
	while (p < end && is_ows(*p))
		p++;
	const char *v = p;
	if (field_chars_end(p, end) != end)
		return false;
	const char *ve = end;
	while (ve > v && is_ows(ve[-1]))
		ve--;
	*value = v;
	*vlen = (size_t)(ve - v);
	return true;
}

/* One header field line [p, end) (not empty). 0 or -400. */
static int parse_field(const char *p, const char *end, struct http_request *r, struct fields *f)
{
	const char *name, *v;
	size_t nlen, vlen;
	if (!split_field(p, end, &name, &nlen, &v, &vlen))
		return -400;
	if (lower_is(name, nlen, "content-length"))
		return parse_content_length(v, vlen, r, f);
	if (lower_is(name, nlen, "transfer-encoding")) {
		f->te = true;
		each_element(v, vlen, te_coding, f);
	} else if (lower_is(name, nlen, "connection")) {
		each_element(v, vlen, connection_option, f);
	} else if (lower_is(name, nlen, "expect")) {
		r->expect_continue = lower_is(v, vlen, "100-continue");
	} else if (lower_is(name, nlen, "range")) {
		r->range = v;
		r->range_len = vlen;
		f->ranges++;
	}
	return 0;
}

/* The checks that need every field: how the body is framed (RFC 9112
 * 6.1-6.3), whether the connection stays open. */
static int finish_head(struct http_request *r, const struct fields *f)
{
	if (f->te) {
		if (f->lengths || r->minor == 0)
			return -400; /* both framings, or TE in HTTP/1.0: smuggling */
		if (f->te_error)
			return f->te_error;
		if (f->te_chunked && !f->te_chunked_last)
			return -400; /* chunked must come last */
		if (f->te_other)
			return -501;
		if (!f->te_chunked)
			return -400; /* an empty list */
		r->chunked = true;
	}
	if (f->ranges > 1) {
		r->range = NULL; /* two Range fields: ignore both */
		r->range_len = 0;
	}
	if (r->minor == 0)
		r->expect_continue = false;
	r->keep_alive = !f->conn_close && (r->minor == 1 || f->conn_keep_alive);
	return 0;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	const char *p = buf, *end = buf + len;
	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	for (;;) {
		if (p < end && *p == '\n')
			p++;
		else if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else
			break;
	}
	const char *cend, *next = NULL;
	bool complete = next_line(p, end, &cend, &next);
	if (!complete) {
		cend = end; /* check what is there; a last CR may start the CR LF */
		if (cend > p && cend[-1] == '\r')
			cend--;
	}
	int rc = parse_request_line(p, cend, complete, req);
	if (rc <= 0)
		return rc;
	struct fields f = {0};
	for (p = next;; p = next) {
		if (!next_line(p, end, &cend, &next))
			return 0;
		if (cend == p)
			break; /* the empty line: the head is complete */
		rc = parse_field(p, cend, req, &f);
		if (rc < 0)
			return rc;
	}
	rc = finish_head(req, &f);
	if (rc < 0)
		return rc;
	req->head_len = (size_t)(next - buf);
	return (int)req->head_len;
}

/* ---- paths ---- */

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)(ch | 0x20);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Percent-decode path[0, len) up to its query into out; its length or
 * -400 / -414. An encoded '/' becomes a separator, as in nginx: "..%2f"
 * is a ".." segment like any other. */
static int percent_decode(const char *path, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && path[i] != '?' && path[i] != '#'; i++) {
		char ch = path[i];
		if (ch == '%') {
			int hi = i + 2 < len ? hex_value(path[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value(path[i + 2]) : -1;
			if (lo < 0)
				return -400;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (ch == '\0')
			return -400;
		if (n + 1 >= cap)
			return -414;
		out[n++] = ch;
	}
	return (int)n;
}

int http_target_path(const char *path, size_t len, char *out, size_t cap)
{
	if (len == 0 || path[0] != '/' || cap == 0)
		return -400;
	int rc = percent_decode(path, len, out, cap);
	if (rc < 0)
		return rc;
	size_t n = (size_t)rc, w = 0;
	/* Rewrite segment by segment in place: w never passes r. */
	for (size_t r = 0; r < n;) {
		while (r < n && out[r] == '/')
			r++;
		size_t s = r;
		while (r < n && out[r] != '/')
			r++;
		size_t sl = r - s;
		if (sl == 0 || (sl == 1 && out[s] == '.'))
			continue;
		if (sl == 2 && out[s] == '.' && out[s + 1] == '.') {
			if (w == 0)
				return -400; /* above the root */
			while (w > 0 && out[w - 1] != '/')
				w--;
			if (w > 0)
				w--;
			continue;
		}
		if (w)
			out[w++] = '/';
		memmove(out + w, out + s, sl);
		w += sl;
	}
	out[w] = '\0';
	return (int)w;
}

/* ---- ranges ---- */

/* Digits at v[*i]: false if none or too many for 64 bits. */
static bool range_number(const char *v, size_t n, size_t *i, uint64_t *out)
{
	size_t s = *i;
	uint64_t x = 0;
	for (; *i < n && v[*i] >= '0' && v[*i] <= '9'; (*i)++) {
		unsigned d = (unsigned)(v[*i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return *i > s;
}

int http_parse_range(const char *v, size_t n, uint64_t size, uint64_t *first, uint64_t *last)
{
	if (n < 6 || strncasecmp(v, "bytes=", 6) != 0)
		return 0; /* another unit: ignore the field */
	if (memchr(v, ',', n))
		return 0; /* several ranges: the whole resource (RFC 9110 14.2 allows it) */
	size_t i = 6;
	while (i < n && is_ows(v[i]))
		i++;
	uint64_t a = 0, b = 0;
	bool has_a = range_number(v, n, &i, &a);
	if (i == n || v[i] != '-')
		return -416;
	i++;
	bool has_b = range_number(v, n, &i, &b);
	while (i < n && is_ows(v[i]))
		i++;
	if (i != n || (!has_a && !has_b))
		return -416;
	if (!has_a) { /* "-N": the last N bytes */
		if (b == 0 || size == 0)
			return -416;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if ((has_b && b < a) || a >= size)
		return -416;
	*first = a;
	*last = has_b && b < size - 1 ? b : size - 1;
	return 1;
}

/* ---- chunked bodies ---- */

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE };

/* The complete line at buf, or MORE / -400 when it is too long to be. */
static int chunk_line(const char *buf, size_t len, const char **cend, const char **next)
{
	size_t scan = len < HTTP_CHUNK_LINE_MAX ? len : HTTP_CHUNK_LINE_MAX;
	if (!next_line(buf, buf + scan, cend, next))
		return len >= HTTP_CHUNK_LINE_MAX ? -400 : HTTP_CHUNK_MORE;
	return HTTP_CHUNK_STEP;
}

/* "1f;name=value": the size in hex, then optional extensions (ignored). */
static int chunk_size_line(struct http_chunked *c, const char *p, const char *end)
{
	uint64_t size = 0;
	const char *digits = p;
	for (int d; p < end && (d = hex_value(*p)) >= 0; p++) {
		if (size > c->max >> 4)
			return -413;
		size = size << 4 | (uint64_t)d;
	}
	if (p == digits)
		return -400;
	while (p < end && is_ows(*p))
		p++;
	if (p < end && *p != ';')
		return -400;
	if (field_chars_end(p, end) != end)
		return -400;
	if (size > c->max - c->total)
		return -413;
	c->left = size;
	c->state = size ? CH_DATA : CH_TRAILER;
	return HTTP_CHUNK_STEP;
}

static int trailer_line(struct http_chunked *c, const char *p, const char *end, size_t linelen)
{
	if (p == end) {
		c->state = CH_DONE;
		return HTTP_CHUNK_DONE;
	}
	c->trailer += linelen;
	if (c->trailer > 2 * HTTP_CHUNK_LINE_MAX)
		return -400;
	/* Checked as a field and otherwise ignored: framing fields such as
	 * Content-Length mean nothing in a trailer (RFC 9110 6.5.1), so
	 * their values are not read as the header section's would be. */
	const char *name, *v;
	size_t nlen, vlen;
	return split_field(p, end, &name, &nlen, &v, &vlen) ? HTTP_CHUNK_STEP : -400;
}

int http_chunked_step(struct http_chunked *c, const char *buf, size_t len, size_t *used,
		      const char **data, size_t *data_len)
{
	*used = 0;
	*data = NULL;
	*data_len = 0;
	const char *cend, *next;
	int rc;
	switch (c->state) {
	case CH_DATA:
		if (len == 0)
			return HTTP_CHUNK_MORE;
		*data_len = len < c->left ? len : (size_t)c->left;
		*data = buf;
		*used = *data_len;
		c->left -= *data_len;
		c->total += *data_len;
		if (c->left == 0)
			c->state = CH_DATA_END;
		return HTTP_CHUNK_STEP;
	case CH_DATA_END: /* the CR LF (or LF) after a chunk's data */
		if (len == 0 || (buf[0] == '\r' && len == 1))
			return HTTP_CHUNK_MORE;
		if (buf[0] != '\n' && (buf[0] != '\r' || buf[1] != '\n'))
			return -400;
		*used = buf[0] == '\n' ? 1 : 2;
		c->state = CH_SIZE;
		return HTTP_CHUNK_STEP;
	case CH_SIZE:
	case CH_TRAILER:
		rc = chunk_line(buf, len, &cend, &next);
		if (rc != HTTP_CHUNK_STEP)
			return rc;
		*used = (size_t)(next - buf);
		rc = c->state == CH_SIZE ? chunk_size_line(c, buf, cend)
					 : trailer_line(c, buf, cend, *used);
		if (rc < 0)
			*used = 0;
		return rc;
	default:
		return HTTP_CHUNK_DONE;
	}
}

/* ---- reason phrases ---- */

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
