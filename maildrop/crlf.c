#include <string.h>

#include "crlf.h"

void
crlf_init(struct crlf_state *st, long long body_lines)
{
	st->at_line_start = 1;
	st->prev_cr = 0;
	st->in_body = 0;
	st->line_blank = 1;
	st->done = 0;
	st->body_lines = body_lines;
}

/*
 * One input octet: writes 0-2 octets to out (if out != NULL) and returns
 * how many.  A single function for converting and counting keeps the
 * two from ever disagreeing; counting (out == NULL) leaves out the
 * stuffed dot, which RFC 1939 §11 does not count in a message's size.
 */
static inline size_t
crlf_step(struct crlf_state *st, unsigned char c, char *out)
{
	size_t	 n = 0;

	if (c == '\n') {
		if (!st->prev_cr) {
			if (out)
				out[n] = '\r';
			n++;
		}
		if (out)
			out[n] = '\n';
		n++;
		if (st->in_body) {
			if (st->body_lines > 0 && --st->body_lines == 0)
				st->done = 1;
		} else if (st->line_blank) {
			/* The empty line that ends the header (RFC 5322 §2.1). */
			st->in_body = 1;
			if (st->body_lines == 0)
				st->done = 1;
		}
		st->at_line_start = 1;
		st->line_blank = 1;
		st->prev_cr = 0;
		return n;
	}
	/* RFC 1939 §3: byte-stuff a line that starts with the termination octet. */
	if (st->at_line_start && c == '.' && out != NULL)
		out[n++] = '.';
	if (out)
		out[n] = (char)c;
	n++;
	st->at_line_start = 0;
	st->prev_cr = c == '\r';
	if (c != '\r')
		st->line_blank = 0;
	return n;
}

/*
 * The bytes of a line after its first one, up to (not including) the next
 * LF, need no change: they are taken as one run, and only the state the
 * run leaves behind is updated.  Returns the run's length.
 */
static inline size_t
crlf_run(struct crlf_state *st, const char *in, size_t inlen)
{
	const char	*lf = memchr(in, '\n', inlen);
	size_t		 n = lf != NULL ? (size_t)(lf - in) : inlen;
	size_t		 i;

	if (n == 0)
		return 0;
	if (st->line_blank)
		for (i = 0; i < n; i++)
			if (in[i] != '\r') {
				st->line_blank = 0;
				break;
			}
	st->prev_cr = in[n - 1] == '\r';
	return n;
}

size_t
crlf_convert(struct crlf_state *st, const char *in, size_t inlen, char *out)
{
	size_t	 i = 0, o = 0, n;

	while (i < inlen && !st->done) {
		if (!st->at_line_start &&
		    (n = crlf_run(st, in + i, inlen - i)) > 0) {
			memcpy(out + o, in + i, n);
			i += n;
			o += n;
			continue;
		}
		o += crlf_step(st, (unsigned char)in[i++], out + o);
	}
	return o;
}

uint64_t
crlf_measure(struct crlf_state *st, const char *in, size_t inlen)
{
	uint64_t total = 0;
	size_t	 i = 0, n;

	while (i < inlen && !st->done) {
		if (!st->at_line_start &&
		    (n = crlf_run(st, in + i, inlen - i)) > 0) {
			i += n;
			total += n;
			continue;
		}
		total += crlf_step(st, (unsigned char)in[i++], NULL);
	}
	return total;
}

size_t
crlf_finish(const struct crlf_state *st, char *out)
{
	if (st->at_line_start || st->done)
		return 0;
	out[0] = '\r';
	out[1] = '\n';
	return 2;
}
