/*
 * crlf.c: stored bytes -> POP3 wire form (RFC 1939 §3).  Exact output for
 * each storage form, TOP's line counting, independence from how the input
 * is cut into chunks, and measure == convert less the stuffing, checked against a separate
 * line-by-line reference on random messages.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crlf.h"

#include "check.h"

struct buf {
	char	*p;
	size_t	 len;
};

static void
dump(const char *what, const char *p, size_t len)
{
	size_t	 i;

	fprintf(stderr, "  %s (%zu): \"", what, len);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* PRNG with a fixed seed: failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Output lines that start with ".": each was byte-stuffed. */
static uint64_t
stuffed(const char *p, size_t len)
{
	uint64_t n = 0;
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] == '.' && (i == 0 || p[i - 1] == '\n'))
			n++;
	return n;
}

/*
 * Converts in, fed in pieces: step 0 = all at once, 1 = byte by byte,
 * -1 = random pieces.  Also measures with a separate state, fed in other
 * pieces, and checks that the size is the output less its stuffed dots
 * (RFC 1939 §11).
 */
static struct buf
convert(const char *in, size_t len, long long lines, int step)
{
	struct crlf_state st, ms;
	struct buf	 b;
	uint64_t	 measured = 0;
	size_t		 i, n;

	b.p = malloc(2 * len + 2);
	b.len = 0;
	crlf_init(&st, lines);
	for (i = 0; i < len; i += n) {
		n = step == 0 ? len - i : step == 1 ? 1 : 1 + rng() % 7;
		if (n > len - i)
			n = len - i;
		b.len += crlf_convert(&st, in + i, n, b.p + b.len);
	}
	b.len += crlf_finish(&st, b.p + b.len);

	crlf_init(&ms, lines);
	for (i = 0; i < len; i += n) {
		n = 1 + rng() % 5;
		if (n > len - i)
			n = len - i;
		measured += crlf_measure(&ms, in + i, n);
	}
	measured += crlf_finish(&ms, (char[2]){ 0 });
	if (measured != b.len - stuffed(b.p, b.len)) {
		fprintf(stderr, "measure %llu != convert %zu less stuffing\n",
		    (unsigned long long)measured, b.len);
		dump("input", in, len);
		CHECK_FAIL();
	}
	return b;
}

static void
expect_n(int line, const char *in, size_t inlen, long long lines,
    const char *want, size_t wantlen)
{
	static const int steps[] = { 0, 1, -1, -1, -1 };
	struct buf	 b;
	size_t		 k;

	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		b = convert(in, inlen, lines, steps[k]);
		if (b.len != wantlen || memcmp(b.p, want, wantlen) != 0) {
			fprintf(stderr, "%s:%d: lines %lld step %d: wrong "
			    "output\n", __FILE__, line, lines, steps[k]);
			dump("input", in, inlen);
			dump("want", want, wantlen);
			dump("got", b.p, b.len);
			CHECK_FAIL();
		}
		free(b.p);
	}
}

#define EXPECT(in, lines, want) \
	expect_n(__LINE__, in, sizeof(in) - 1, lines, want, sizeof(want) - 1)

static void
test_storage(void)
{
	/* LF storage: every LF gets a CR. */
	EXPECT("a\nb\n", -1, "a\r\nb\r\n");
	EXPECT("\n", -1, "\r\n");
	EXPECT("\n\n", -1, "\r\n\r\n");
	/* CRLF storage: kept, never CR CR LF (docs/mbox.md). */
	EXPECT("a\r\nb\r\n", -1, "a\r\nb\r\n");
	EXPECT("\r\n\r\n", -1, "\r\n\r\n");
	/* Mixed. */
	EXPECT("a\r\nb\nc\r\n", -1, "a\r\nb\r\nc\r\n");
	/* No final newline: CRLF added (RFC 1939 §3; popa3d's off-by-one). */
	EXPECT("abc", -1, "abc\r\n");
	EXPECT("a\nb", -1, "a\r\nb\r\n");
	/* Empty message: nothing at all. */
	EXPECT("", -1, "");
}

static void
test_dots(void)
{
	/* RFC 1939 §3: a line starting with "." gets one more. */
	EXPECT(".\n", -1, "..\r\n");
	EXPECT("..\n", -1, "...\r\n");
	EXPECT(".x\n", -1, "..x\r\n");
	EXPECT(".\r\n", -1, "..\r\n");
	EXPECT("a\n.\nb\n", -1, "a\r\n..\r\nb\r\n");
	EXPECT("a\r\n.\r\n", -1, "a\r\n..\r\n");
	EXPECT(".", -1, "..\r\n");
	EXPECT("x.\n", -1, "x.\r\n");
	EXPECT("x\n.", -1, "x\r\n..\r\n");
	/* Not at a line start: a bare CR is not a line end. */
	EXPECT("a\r.b\n", -1, "a\r.b\r\n");
	EXPECT("\r.\n", -1, "\r.\r\n");
}

/* RFC 1939 §11: the size leaves out the stuffing, not the CRLFs. */
static void
test_size(void)
{
	static const char msg[] = "S: x\n\n.\n..\n.x\ny\n";
	struct crlf_state st;
	char		 out[64];

	crlf_init(&st, -1);
	CHECK(crlf_convert(&st, msg, sizeof(msg) - 1, out) ==
	    sizeof("S: x\r\n\r\n..\r\n...\r\n..x\r\ny\r\n") - 1);
	crlf_init(&st, -1);
	CHECK(crlf_measure(&st, msg, sizeof(msg) - 1) ==
	    sizeof("S: x\r\n\r\n.\r\n..\r\n.x\r\ny\r\n") - 1);
	crlf_init(&st, -1);
	CHECK(crlf_measure(&st, ".", 1) == 1);
	CHECK(crlf_finish(&st, out) == 2);
}

static void
test_bytes(void)
{
	/* Bare CR and NUL are sent as stored (crlf.h). */
	EXPECT("a\rb\n", -1, "a\rb\r\n");
	EXPECT("a\r\r\nb\n", -1, "a\r\r\nb\r\n");
	EXPECT("\r", -1, "\r\r\n");
	EXPECT("abc\r", -1, "abc\r\r\n");
	EXPECT("a\0b\n", -1, "a\0b\r\n");
	EXPECT("\0\n\0", -1, "\0\r\n\0\r\n");
	EXPECT("\n.\0\n", -1, "\r\n..\0\r\n");
	EXPECT("\xff\x80\n", -1, "\xff\x80\r\n");
}

static void
test_top(void)
{
	static const char msg[] = "H1: a\nH2: b\n\nl1\n.l2\nl3\n";

	EXPECT(msg, 0, "H1: a\r\nH2: b\r\n\r\n");
	EXPECT(msg, 1, "H1: a\r\nH2: b\r\n\r\nl1\r\n");
	EXPECT(msg, 2, "H1: a\r\nH2: b\r\n\r\nl1\r\n..l2\r\n");
	EXPECT(msg, 3, "H1: a\r\nH2: b\r\n\r\nl1\r\n..l2\r\nl3\r\n");
	EXPECT(msg, 100, "H1: a\r\nH2: b\r\n\r\nl1\r\n..l2\r\nl3\r\n");
	EXPECT(msg, -1, "H1: a\r\nH2: b\r\n\r\nl1\r\n..l2\r\nl3\r\n");
	/* CRLF storage: "\r\n" alone ends the header too. */
	EXPECT("H: a\r\n\r\nb1\r\nb2\r\n", 0, "H: a\r\n\r\n");
	EXPECT("H: a\r\n\r\nb1\r\nb2\r\n", 1, "H: a\r\n\r\nb1\r\n");
	/* No header/body separator: all of it is header. */
	EXPECT("H: a\nH: b\n", 0, "H: a\r\nH: b\r\n");
	EXPECT("H: a\nH: b\n", 5, "H: a\r\nH: b\r\n");
	EXPECT("H: a", 0, "H: a\r\n");
	/* A body line without final newline still gets CRLF. */
	EXPECT("H: a\n\nb1", 1, "H: a\r\n\r\nb1\r\n");
	EXPECT("H: a\n\nb1", 5, "H: a\r\n\r\nb1\r\n");
	/* Empty body lines count as lines. */
	EXPECT("H: a\n\n\n\nx\n", 2, "H: a\r\n\r\n\r\n\r\n");
	/* A line of spaces is not the separator. */
	EXPECT("H: a\n \nb\n\nc\n", 0, "H: a\r\n \r\nb\r\n\r\n");
	/* Message that starts with the separator: empty header. */
	EXPECT("\nb1\nb2\n", 0, "\r\n");
	EXPECT("\nb1\nb2\n", 1, "\r\nb1\r\n");
	EXPECT("", 0, "");
}

/*
 * Reference, written line by line and independent of crlf.c: each
 * LF-terminated line loses one CR before its LF, gets a "." if it starts
 * with one, and ends in CRLF; an unterminated last line is sent as is
 * plus CRLF.  TOP: the header through the first line of only CRs, then
 * `lines` more.
 */
static struct buf
reference(const char *in, size_t len, long long lines)
{
	struct buf	 b;
	size_t		 i = 0, e, l, k;
	int		 in_body = 0, blank;

	b.p = malloc(2 * len + 2);
	b.len = 0;
	while (i < len) {
		if (in_body && lines >= 0 && lines-- == 0)
			break;
		for (e = i; e < len && in[e] != '\n'; e++)
			continue;
		l = e - i;
		if (e < len && l > 0 && in[e - 1] == '\r')
			l--;
		if (in[i] == '.')
			b.p[b.len++] = '.';
		memcpy(b.p + b.len, in + i, l);
		b.len += l;
		b.p[b.len++] = '\r';
		b.p[b.len++] = '\n';
		for (blank = 1, k = i; k < e; k++)
			blank &= in[k] == '\r';
		if (!in_body && blank && e < len) {
			in_body = 1;
		}
		i = e + 1;
	}
	return b;
}

static void
test_random(void)
{
	static const char alphabet[] = "ab.\r\n\n\0 ";
	char		 in[300];
	struct buf	 a, r;
	size_t		 len, i;
	long long	 lines;
	int		 iter, bad;

	for (iter = 0; iter < 20000; iter++) {
		len = rng() % sizeof(in);
		for (i = 0; i < len; i++)
			in[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		lines = (long long)(rng() % 6) - 1;
		r = reference(in, len, lines);
		a = convert(in, len, lines, iter % 3 == 0 ? 1 : -1);
		bad = a.len != r.len || memcmp(a.p, r.p, a.len) != 0;
		/* No bare LF on the wire. */
		for (i = 0; i < a.len; i++)
			if (a.p[i] == '\n' && (i == 0 || a.p[i - 1] != '\r'))
				bad = 1;
		if (bad) {
			fprintf(stderr, "random %d lines %lld: wrong output\n",
			    iter, lines);
			dump("input", in, len);
			dump("want", r.p, r.len);
			dump("got", a.p, a.len);
			CHECK_FAIL();
		}
		free(a.p);
		free(r.p);
		if (check_failures > 10)
			break;
	}
}

/* Chunks of 64 KiB (what the maildrops read) cut CRLFs and dot lines. */
static void
test_big(void)
{
	size_t		 len = 3 * 65536 + 17, i;
	char		*in = malloc(len);
	struct buf	 a, r;

	for (i = 0; i < len; i++)
		in[i] = "x\r\n.\n"[i % 5];
	in[65535] = '\r';
	in[65536] = '\n';
	in[2 * 65536 - 1] = '\n';
	in[2 * 65536] = '.';
	r = reference(in, len, -1);
	a = convert(in, len, -1, 0);
	CHECK(a.len == r.len && memcmp(a.p, r.p, a.len) == 0);
	free(a.p);
	a = convert(in, len, -1, -1);
	CHECK(a.len == r.len && memcmp(a.p, r.p, a.len) == 0);
	free(a.p);
	free(r.p);
	free(in);
}

/* TOP stops converting at its limit and ignores the rest of the input. */
static void
test_done(void)
{
	struct crlf_state st;
	char		 out[64];
	size_t		 n;

	crlf_init(&st, 0);
	n = crlf_convert(&st, "H: a\n\nbody\n", 11, out);
	CHECK(n == 8 && memcmp(out, "H: a\r\n\r\n", 8) == 0);
	CHECK(st.done);
	CHECK(crlf_convert(&st, "more\n", 5, out) == 0);
	CHECK(crlf_measure(&st, "more\n", 5) == 0);
	CHECK(crlf_finish(&st, out) == 0);
}

int
main(void)
{
	test_storage();
	test_dots();
	test_size();
	test_bytes();
	test_top();
	test_done();
	test_big();
	test_random();
	CHECK_DONE();
}
