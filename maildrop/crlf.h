/*
 * Stored message bytes -> POP3 wire form (RFC 1939 §3): every line ends in
 * CRLF whatever the storage uses (a bare LF gets a CR; an existing CRLF is
 * kept, never doubled), a line starting with "." gets one more ".", and an
 * unterminated last line gets CRLF.  The same state machine both converts
 * (RETR, TOP) and counts (LIST, STAT).  RFC 1939 §11: the size of a
 * message counts its CRLF line ends but not the byte-stuffing, so the
 * count is what the client stores: the octets sent less one per line
 * that starts with ".".
 *
 * Bare CR and NUL are sent as stored: they are not line ends in RFC 5322,
 * and changing them would make the size disagree with what was counted.
 */
#ifndef POP3D_CRLF_H
#define POP3D_CRLF_H

#include <stddef.h>
#include <stdint.h>

struct crlf_state {
	unsigned	 at_line_start:1;
	unsigned	 prev_cr:1;
	unsigned	 in_body:1;	/* past the empty line after the header */
	unsigned	 line_blank:1;	/* only CRs on this line so far */
	unsigned	 done:1;	/* TOP's line count reached */
	long long	 body_lines;	/* TOP: body lines still to send; -1 all */
};

/* body_lines: -1 for the whole message (RETR), n >= 0 for TOP n. */
void	crlf_init(struct crlf_state *, long long body_lines);

/*
 * Converts in[0..inlen) into out, which must hold 2 * inlen octets.
 * Returns the octets written.  Once st->done is set (TOP), the rest of
 * the input is ignored.
 */
size_t	crlf_convert(struct crlf_state *, const char *in, size_t inlen,
	    char *out);

/*
 * Counts what crlf_convert would write, without writing it and without
 * the stuffed dots (the POP3 size of RFC 1939 §11).
 */
uint64_t crlf_measure(struct crlf_state *, const char *in, size_t inlen);

/*
 * Ends the message: writes "\r\n" into out (2 octets) when the last line
 * was not terminated.  Returns the octets written (0 or 2).
 */
size_t	crlf_finish(const struct crlf_state *, char *out);

#endif
