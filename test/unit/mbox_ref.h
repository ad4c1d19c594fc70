/*
 * A deliberately naive mbox parser, line by line, for the scanner's unit
 * test and fuzz target to check mbox_scan.c against: the framing rules
 * of docs/mbox.md (the From_ rule, then Content-Length merges), sizes
 * from crlf.c's own state machine.
 */
#ifndef POP3D_MBOX_REF_H
#define POP3D_MBOX_REF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "crlf.h"

struct ref_msg {
	size_t		 from;
	size_t		 content;
	size_t		 rawlen;
	uint64_t	 size;
};

/* Is the line [s, e) (e past its LF, or at EOF) a complete empty line? */
static int
ref_empty(const unsigned char *p, size_t s, size_t e)
{
	if (e == s || p[e - 1] != '\n')
		return 0;
	return e - s == 1 || (e - s == 2 && p[s] == '\r');
}

static void
ref_end(const unsigned char *p, struct ref_msg *m, size_t end)
{
	struct crlf_state	 st;
	char			 fin[2];
	size_t			 ls;

	/* The last line of the message, if empty, is the separator. */
	if (end > m->content) {
		ls = end - 1;
		while (ls > m->content && p[ls - 1] != '\n')
			ls--;
		if (ref_empty(p, ls, end))
			end = ls;
	}
	m->rawlen = end - m->content;
	crlf_init(&st, -1);
	m->size = crlf_measure(&st, (const char *)p + m->content, m->rawlen);
	m->size += crlf_finish(&st, fin);
}

static int
ref_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * The value of a "Content-Length:" line [s, e) (e at its LF), or -1:
 * blanks, 1 or more digits, blanks (a CR counts as one); at most 2^58
 * times ten.
 */
static long long
ref_cl_value(const unsigned char *p, size_t s, size_t e)
{
	unsigned long long v = 0;
	size_t	 i = s + 15;
	int	 digits = 0;

	while (i < e && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (; i < e && p[i] >= '0' && p[i] <= '9'; i++) {
		if (v > (1ULL << 58))
			return -1;
		v = v * 10 + (p[i] - '0');
		digits = 1;
	}
	for (; i < e; i++)
		if (!ref_blank(p[i]))
			return -1;
	return digits ? (long long)v : -1;
}

/*
 * Where message m's Content-Length says its body ends, or (size_t)-1:
 * one such field in the header (the lines after the From_ line up to the
 * first empty one, which must come before the next From_ line at
 * `limit`), not folded, with a good value.
 */
static size_t
ref_cl_target(const unsigned char *p, const struct ref_msg *m, size_t limit)
{
	size_t	 ls = m->content, le, count = 0;
	long long v = -1;
	int	 prev_cl = 0;

	while (ls < limit) {
		for (le = ls; le < limit && p[le] != '\n'; le++)
			continue;
		if (le == limit)
			return (size_t)-1;	/* the header does not end */
		if (le == ls || (le == ls + 1 && p[ls] == '\r'))
			return count == 1 && v >= 0 ? le + 1 + (size_t)v :
			    (size_t)-1;
		if (p[ls] == ' ' || p[ls] == '\t') {
			if (prev_cl)
				v = -1;
		} else {
			prev_cl = le - ls >= 15 &&
			    strncasecmp((const char *)p + ls, "content-length:",
			    15) == 0;
			if (prev_cl) {
				count++;
				v = ref_cl_value(p, ls, le);
			}
		}
		ls = le + 1;
	}
	return (size_t)-1;
}

/*
 * The messages of the From_ rule, then merged where a Content-Length
 * lands exactly where a later one ends (or at the end of the file):
 * for each message in turn, the first such later end.
 */
static size_t
ref_merge(const unsigned char *p, size_t n, struct ref_msg *m, size_t count)
{
	struct crlf_state	 st;
	size_t			 i, k, out = 0, target, limit, end;
	char			 fin[2];

	for (i = 0; i < count; i = k + 1) {
		limit = i + 1 < count ? m[i + 1].from : n;
		target = ref_cl_target(p, &m[i], limit);
		for (k = i; k < count; k++) {
			end = m[k].content + m[k].rawlen;
			if (end == target ||
			    (k == count - 1 && target == n))
				break;
		}
		if (k == count)
			k = i;		/* lands nowhere: the From_ rule stands */
		m[out] = m[i];
		end = m[k].content + m[k].rawlen;
		if (k > i) {
			m[out].rawlen = end - m[i].content;
			crlf_init(&st, -1);
			m[out].size = crlf_measure(&st, (const char *)p +
			    m[i].content, m[out].rawlen);
			m[out].size += crlf_finish(&st, fin);
		}
		out++;
	}
	return out;
}

/*
 * Fills out[] (room for max); returns the count, or (size_t)-1 when the
 * input is not an mbox.
 */
static size_t
ref_parse(const unsigned char *p, size_t n, struct ref_msg *out, size_t max)
{
	size_t	 ls = 0, le, next, count = 0;
	int	 prev_empty = 1;

	if (n == 0)
		return 0;
	if (n < 5 || memcmp(p, "From ", 5) != 0)
		return (size_t)-1;
	while (ls < n) {
		for (le = ls; le < n && p[le] != '\n'; le++)
			continue;
		next = le < n ? le + 1 : n;
		if (prev_empty && le - ls >= 5 && memcmp(p + ls, "From ", 5) == 0) {
			if (count > 0)
				ref_end(p, &out[count - 1], ls);
			if (count == max)
				return (size_t)-2;
			out[count].from = ls;
			out[count].content = next;
			count++;
		}
		prev_empty = ref_empty(p, ls, next);
		ls = next;
	}
	ref_end(p, &out[count - 1], n);
	return ref_merge(p, n, out, count);
}

#endif
