/*
 * A deliberately naive mbox parser, line by line, for the scanner's unit
 * test and fuzz target to check mbox_scan.c against: the framing rules
 * of docs/mbox.md, sizes from crlf.c's own state machine.
 */
#ifndef POP3D_MBOX_REF_H
#define POP3D_MBOX_REF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
	return count;
}

#endif
