/*
 * libFuzzer target for crlf.c.  Input: one byte of TOP line count, one
 * byte seeding the chunking, then the stored message.  Checks that the
 * output is the same however the input is cut, that measure == convert
 * less the stuffed dots (RFC 1939 §11: the size does not count them),
 * that no LF goes out without its CR, that every line starting with "."
 * was stuffed, and that undoing the conversion gives the message back
 * (RFC 1939 §3).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crlf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
fuzz_crlf_run(const char *in, size_t len, long long lines, unsigned seed,
    char *out, uint64_t *measured)
{
	struct crlf_state st, ms;
	size_t		 i, n, o = 0;

	crlf_init(&st, lines);
	crlf_init(&ms, lines);
	*measured = 0;
	for (i = 0; i < len; i += n) {
		/* Piece lengths 1..64 from the seed, or all at once. */
		n = seed == 0 ? len - i : 1 + (seed = seed * 1103515245 +
		    12345) % 64;
		if (n > len - i)
			n = len - i;
		o += crlf_convert(&st, in + i, n, out + o);
		*measured += crlf_measure(&ms, in + i, n);
	}
	o += crlf_finish(&st, out + o);
	*measured += crlf_finish(&ms, (char[2]){ 0 });
	return o;
}

/* Output lines that start with ".": each was byte-stuffed. */
static uint64_t
fuzz_crlf_stuffed(const char *p, size_t n)
{
	uint64_t c = 0;
	size_t	 i;

	for (i = 0; i < n; i++)
		c += p[i] == '.' && (i == 0 || p[i - 1] == '\n');
	return c;
}

/* Octets before the first LF, or n. */
static size_t
strcspn_n(const char *p, size_t n)
{
	const char	*lf = memchr(p, '\n', n);

	return lf == NULL ? n : (size_t)(lf - p);
}

static size_t
fuzz_crlf_count(const char *p, size_t n)
{
	size_t	 i, c = 0;

	for (i = 0; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/*
 * Lines TOP sends (RFC 1939 §7): the header through the first line of
 * only CRs, then `lines` body lines, fewer if the message ends first.
 */
static size_t
fuzz_crlf_top_lines(const char *in, size_t len, long long lines)
{
	size_t	 i, all, seen = 0;
	int	 blank = 1;

	all = fuzz_crlf_count(in, len) + (len > 0 && in[len - 1] != '\n');
	for (i = 0; i < len; i++) {
		if (in[i] == '\n') {
			seen++;
			if (blank)
				return seen + (size_t)lines < all ?
				    seen + (size_t)lines : all;
			blank = 1;
		} else if (in[i] != '\r')
			blank = 0;
	}
	return all;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in;
	char		*a, *b;
	size_t		 len, na, nb, i, j, k, e, f;
	long long	 lines;
	uint64_t	 ma, mb;
	int		 line_start;

	if (size < 2)
		return 0;
	lines = data[0] == 0xff ? -1 : data[0] % 8;
	in = (const char *)data + 2;
	len = size - 2;
	a = malloc(2 * len + 2);
	b = malloc(2 * len + 2);
	na = fuzz_crlf_run(in, len, lines, 0, a, &ma);
	nb = fuzz_crlf_run(in, len, lines, data[1] | 1, b, &mb);
	if (na != nb || memcmp(a, b, na) != 0)
		abort();
	if (ma != na - fuzz_crlf_stuffed(a, na) ||
	    mb != nb - fuzz_crlf_stuffed(b, nb))
		abort();
	/* Every line ends in CRLF; a line starting "." starts "..". */
	if (na > 0 && (na < 2 || a[na - 2] != '\r' || a[na - 1] != '\n'))
		abort();
	for (line_start = 1, i = 0; i < na; i++) {
		if (a[i] == '\n' && (i == 0 || a[i - 1] != '\r'))
			abort();
		if (line_start && a[i] == '.' && (i + 1 >= na ||
		    a[i + 1] != '.'))
			abort();
		line_start = a[i] == '\n';
	}
	/*
	 * Undo, line by line against the input: the output line less its
	 * stuffed "." and its CRLF is the stored line less its LF and one CR
	 * before it; an unterminated last line is sent whole plus CRLF.
	 */
	for (i = 0, k = 0; i < na; i = e + 1, k = f + 1) {
		e = (size_t)((const char *)memchr(a + i, '\n', na - i) - a);
		if (k >= len)
			abort();	/* more lines out than in */
		if ((a[i] == '.') != (in[k] == '.'))
			abort();
		i += a[i] == '.';
		f = k + strcspn_n(in + k, len - k);
		j = f;
		if (f < len && j > k && in[j - 1] == '\r')
			j--;
		if (e - 1 - i != j - k || memcmp(a + i, in + k, j - k) != 0)
			abort();
	}
	if (lines < 0 && k < len)
		abort();	/* RETR sent less than stored */
	if (lines >= 0 && fuzz_crlf_top_lines(in, len, lines) !=
	    fuzz_crlf_count(a, na))
		abort();	/* TOP sent the wrong number of lines */
	free(a);
	free(b);
	return 0;
}
