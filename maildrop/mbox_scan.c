/*
 * One pass over an mbox: where each message is, how many octets RETR will
 * send for it, and a digest for its unique-id.  Nothing of the messages
 * is kept but a 48-byte record each (mbox.h).
 *
 * Framing (Berkeley mbox as Debian's MDAs write it): a message starts at
 * a line beginning with "From " at the start of the file or right after
 * an empty line.  A line of only "\r" counts as empty too, so that mbox
 * files stored with CRLF frame the same way.  The served message is what
 * lies between its From_ line and the next one, less the empty line
 * before that next From_ line (the separator the MDA added); at the end
 * of the file, a final empty line is the separator likewise.
 *
 * Content-Length: dovecot-lda writes body lines starting with "From "
 * unescaped and frames with Content-Length, so the From_ rule alone cuts
 * such a message in two.  As Dovecot and mutt do, a Content-Length in a
 * message's header is followed when the body it gives ends exactly where
 * a From_-rule message ends (before its separator, or at the end of the
 * file): the messages between are merged.  Any other value is ignored,
 * so a wrong header can never swallow or hide mail that the From_ rule
 * would frame differently; it can only join messages at a separator.
 * Which messages are waiting to merge lives in the scan state (cand), not
 * in the 48-byte records.
 *
 * The digest skips the header fields that delivery agents and mail
 * readers rewrite in place (scan_volatile), so that a unique-id survives
 * dovecot-lda's X-IMAPbase update or a reader's Status flag.
 *
 * The size is counted here rather than with crlf_measure(): this loop
 * jumps from LF to LF with memchr, and counts per line what crlf.c does
 * per byte (an LF without CR before it gets a CR, an unterminated last
 * line gets CRLF; RFC 1939 §11: the dot-stuffing is not counted, so the
 * size is what the client stores).  The unit test
 * and the fuzz target check it against crlf_measure() on every message.
 */
#include <sys/types.h>

#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mbox.h"
#include "xio.h"

#define HASH_K1		0x9e3779b97f4a7c15ULL	/* 2^64 / golden ratio */
#define HASH_K2		0xd6e8feb86659fd93ULL
#define HASH_K3		0xa0761d6478bd642fULL

void
mbox_hash_init(struct mbox_hash *h)
{
	h->a = HASH_K3;
	h->b = HASH_K1;
	h->len = 0;
	h->ntail = 0;
}

static inline uint64_t
hash_rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* One little-endian word into both lanes, each its own mixing. */
static inline void
hash_word(struct mbox_hash *h, const unsigned char *p)
{
	uint64_t	 w;

	memcpy(&w, p, sizeof(w));
	w = le64toh(w);
	h->a = (h->a ^ w) * HASH_K1;
	h->a ^= h->a >> 29;
	h->b = hash_rotl(h->b + w, 23) * HASH_K2;
}

void
mbox_hash_update(struct mbox_hash *h, const void *buf, size_t n)
{
	const unsigned char	*p = buf;

	h->len += n;
	while (h->ntail > 0 && h->ntail < 8 && n > 0) {
		h->tail[h->ntail++] = *p++;
		n--;
	}
	if (h->ntail == 8) {
		hash_word(h, h->tail);
		h->ntail = 0;
	}
	for (; n >= 8; n -= 8, p += 8)
		hash_word(h, p);
	while (n-- > 0)
		h->tail[h->ntail++] = *p++;
}

/* A final avalanche, so that every input bit reaches every output bit. */
static uint64_t
hash_fold(uint64_t x)
{
	x ^= x >> 31;
	x *= HASH_K2;
	x ^= x >> 29;
	x *= HASH_K3;
	x ^= x >> 32;
	return x;
}

void
mbox_hash_final(struct mbox_hash *h, unsigned char out[16])
{
	uint64_t	 a, b;
	int		 i;

	memset(h->tail + h->ntail, 0, 8 - h->ntail);
	hash_word(h, h->tail);
	a = hash_fold(h->a ^ h->len);
	b = hash_fold(h->b + hash_rotl(h->len, 17) + a);
	a = hash_fold(a ^ b);
	for (i = 0; i < 8; i++) {
		out[i] = (unsigned char)(a >> (8 * i));
		out[8 + i] = (unsigned char)(b >> (8 * i));
	}
}

void
mbox_scan_init(struct mbox_scan *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	/* The start of the file counts as "after an empty line". */
	s->prev_empty = 1;
	s->boundary = UINT64_MAX;
	s->limit = UINT64_MAX;
}

void
mbox_scan_init_whole(struct mbox_scan *s, struct mbox_msg *out)
{
	mbox_scan_init(s, 1);
	s->whole = 1;
	s->msgs = out;
	s->cap = 1;
}

static void
scan_fail(struct mbox_scan *s, enum mbox_scan_error e)
{
	s->error = e;
	s->stop = 1;
}

static void
scan_hash(struct mbox_scan *s, const void *p, size_t n)
{
	if (!s->hashing)
		return;
	if (n > s->hash_left)
		n = s->hash_left;
	mbox_hash_update(&s->hash, p, n);
	s->hash_left -= (uint32_t)n;
	if (s->hash_left == 0)
		s->hashing = 0;
}

static void
scan_put64(unsigned char *p, uint64_t v)
{
	int	 i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The lengths make messages with one header and two bodies differ. */
static void
scan_digest(const struct mbox_hash *h, uint64_t rawlen, uint64_t size,
    unsigned char out[16])
{
	struct mbox_hash	 t = *h;
	unsigned char		 lens[16];

	scan_put64(lens, rawlen);
	scan_put64(lens + 8, size);
	mbox_hash_update(&t, lens, sizeof(lens));
	mbox_hash_final(&t, out);
}

/*
 * Content-Length (docs/mbox.md "What is a message"): where the current
 * message's header says its body ends, or UINT64_MAX when it says
 * nothing usable.
 */
static uint64_t
scan_cl_target(const struct mbox_scan *s)
{
	if (s->cl_state != CL_OK || !s->have_body)
		return UINT64_MAX;
	return s->body + s->cl_value;
}

/*
 * A message ends at `end`; is it the end that an earlier message's
 * Content-Length points at?  Then that message takes in everything up
 * to here: the From_ lines in its body only looked like separators.
 * Candidates that point before `end` can never land and are dropped.
 */
static int
scan_merge(struct mbox_scan *s, uint64_t end, uint64_t extra_end,
    int unterminated, uint64_t eof)
{
	struct mbox_cand	*c;
	struct mbox_msg		*m;
	size_t			 i, j;

	for (i = j = 0; i < s->ncand; i++)
		if (s->cand[i].target >= end)
			s->cand[j++] = s->cand[i];
	s->ncand = j;
	for (i = 0; i < s->ncand; i++)
		if (s->cand[i].target == end || s->cand[i].target == eof)
			break;
	if (i == s->ncand)
		return 0;
	c = &s->cand[i];
	m = &s->msgs[c->index];
	m->rawlen = end - (m->from + m->fromlen);
	m->size = m->rawlen + (extra_end - c->content_extra) +
	    (unterminated ? 2 : 0);
	scan_digest(&c->hash, m->rawlen, m->size, m->digest);
	s->count = c->index + 1;
	/* It and the candidates of the messages it swallowed are done. */
	s->ncand = i;
	return 1;
}

/* The message just recorded may be merged with later ones. */
static void
scan_candidate(struct mbox_scan *s, uint64_t end, const struct mbox_hash *h)
{
	struct mbox_cand	*c;
	uint64_t		 target = scan_cl_target(s);
	size_t			 ncap;

	/* Beyond the file it can never land. */
	if (s->whole || target == UINT64_MAX || target <= end ||
	    target > s->limit)
		return;
	if (s->ncand == s->candcap) {
		ncap = s->candcap ? s->candcap * 2 : 8;
		if ((c = reallocarray(s->cand, ncap, sizeof(*c))) == NULL) {
			scan_fail(s, MBOX_SCAN_NOMEM);
			return;
		}
		s->cand = c;
		s->candcap = ncap;
	}
	c = &s->cand[s->ncand++];
	c->target = target;
	c->index = s->count - 1;
	c->content_extra = s->content_extra;
	c->hash = *h;
}

/*
 * The current message ends; its served bytes are [content, end), with
 * extra_end the CRs added up to end.  eof is the file's end when the
 * message ends there, else UINT64_MAX.
 */
static void
scan_end(struct mbox_scan *s, uint64_t end, uint64_t extra_end,
    int unterminated, uint64_t eof)
{
	struct mbox_msg	*m;

	if (s->probe || scan_merge(s, end, extra_end, unterminated, eof))
		return;
	if (s->count == s->max) {
		scan_fail(s, MBOX_SCAN_TOO_MANY);
		return;
	}
	if (s->count == s->cap) {
		size_t	 ncap = s->cap ? s->cap * 2 : 256;

		m = reallocarray(s->msgs, ncap, sizeof(*m));
		if (m == NULL) {
			scan_fail(s, MBOX_SCAN_NOMEM);
			return;
		}
		s->msgs = m;
		s->cap = ncap;
	}
	m = &s->msgs[s->count++];
	m->from = s->cur_from;
	m->fromlen = (uint32_t)(s->content - s->cur_from);
	m->rawlen = end - s->content;
	m->size = m->rawlen + (extra_end - s->content_extra) +
	    (unterminated ? 2 : 0);
	m->dup = 0;
	scan_digest(&s->hash, m->rawlen, m->size, m->digest);
	if (eof == UINT64_MAX)
		scan_candidate(s, end, &s->hash);
}

/* A From_ line starts at line_start: end the message before it. */
static void
scan_boundary(struct mbox_scan *s)
{
	if (s->inmsg)
		scan_end(s, s->prev_start, s->prev_extra, 0, UINT64_MAX);
	if (s->probe) {
		s->boundary = s->line_start;
		s->stop = 1;
		return;
	}
	if (s->stop)
		return;
	s->inmsg = 1;
	s->fromline = 1;
	s->inhead = 0;
	s->cur_from = s->line_start;
	s->cl_state = CL_NONE;
	s->have_body = 0;
	s->hprev = HC_KEEP;
	mbox_hash_init(&s->hash);
	s->hashing = 1;
	s->hash_left = MBOX_HASH_CAP;
	scan_hash(s, s->head, 5);
}

/*
 * Header fields that MDAs and MUAs rewrite in place (dovecot-lda's
 * X-IMAPbase in the first message at every delivery, a MUA's Status):
 * left out of the digest so that the unique-id survives them.
 * Content-Length is one of them too, and is also read (HC_CL).
 */
static const struct {
	const char	*name;
	size_t		 len;
} scan_volatile[] = {
	{ "x-imapbase", 10 },
	{ "x-imap", 6 },
	{ "x-uid", 5 },
	{ "status", 6 },
	{ "x-status", 8 },
	{ "x-keywords", 10 },
	{ "lines", 5 },
};

static int
scan_field_class(const unsigned char *name, size_t len)
{
	size_t	 i;

	/* Most fields start with none of c, l, s, x: decided at once. */
	if (len < 5 || len > 14 || memchr("cClLsSxX", name[0], 8) == NULL)
		return HC_KEEP;
	if (len == 14 && strncasecmp((const char *)name, "content-length",
	    14) == 0)
		return HC_CL;
	for (i = 0; i < sizeof(scan_volatile) / sizeof(scan_volatile[0]); i++)
		if (len == scan_volatile[i].len && strncasecmp(
		    (const char *)name, scan_volatile[i].name, len) == 0)
			return HC_SKIP;
	return HC_KEEP;
}

/*
 * One octet of a Content-Length value: blanks, digits, blanks (a CR
 * before the LF is a blank here).  Bounded so that body + value cannot
 * wrap.
 */
static void
scan_cl(struct mbox_scan *s, unsigned char c)
{
	int	 blank = c == ' ' || c == '\t' || c == '\r';

	switch (s->cl_line) {
	case CLP_LEAD:
		if (c == ' ' || c == '\t')
			return;
		s->cl_line = CLP_DIGITS;
		/* FALLTHROUGH */
	case CLP_DIGITS:
		if (c >= '0' && c <= '9') {
			if (s->cl_line_value > (UINT64_C(1) << 58)) {
				s->cl_line = CLP_BAD;
				return;
			}
			s->cl_line_value = s->cl_line_value * 10 + (c - '0');
			s->cl_digits = 1;
			return;
		}
		s->cl_line = blank && s->cl_digits ? CLP_TRAIL : CLP_BAD;
		return;
	case CLP_TRAIL:
		if (!blank)
			s->cl_line = CLP_BAD;
		return;
	}
}

/*
 * The header line is decided: hash the octets held back (its start), if
 * it is kept.
 */
static void
scan_field_decided(struct mbox_scan *s, int class, const unsigned char *held,
    size_t nheld)
{
	s->hclass = (unsigned char)class;
	if (class == HC_KEEP) {
		s->hashing = s->hash_left > 0;
		scan_hash(s, held, nheld);
	} else if (class == HC_CL) {
		s->cl_line = CLP_LEAD;
		s->cl_line_value = 0;
		s->cl_digits = 0;
	}
}

/* RFC 5322 §2.2.3: a folded line is part of the field before it. */
static void
scan_field_folded(struct mbox_scan *s, const unsigned char *held,
    size_t nheld)
{
	if (s->hprev == HC_CL)
		s->cl_state = CL_BAD;
	scan_field_decided(s, s->hprev == HC_KEEP ? HC_KEEP : HC_SKIP, held,
	    nheld);
}

/* A field name of len octets, held[len] being its colon. */
static void
scan_field_named(struct mbox_scan *s, const unsigned char *held, size_t len)
{
	s->hprev = (unsigned char)scan_field_class(held, len);
	scan_field_decided(s, s->hprev, held, len + 1);
	if (s->hclass == HC_CL && s->cl_state != CL_NONE)
		s->cl_state = CL_BAD;	/* two of them */
}

/*
 * An octet of a header line among its first MBOX_HEAD, when the line
 * did not come whole in one block (scan_header_line): the line is
 * classified as soon as its field name is known (the colon), its first
 * octet makes it a continuation, or the name is too long to be one of
 * scan_volatile.
 */
static void
scan_field(struct mbox_scan *s, unsigned char c)
{
	switch (s->hclass) {
	case HC_KEEP:
		scan_hash(s, &c, 1);
		return;
	case HC_CL:
		scan_cl(s, c);
		return;
	case HC_SKIP:
		return;
	}
	if (s->linepos == 1 && (c == ' ' || c == '\t'))
		scan_field_folded(s, s->head, 1);
	else if (c == ':')
		scan_field_named(s, s->head, s->linepos - 1);
	else if (s->linepos == MBOX_HEAD) {
		s->hprev = HC_KEEP;
		scan_field_decided(s, HC_KEEP, s->head, MBOX_HEAD);
	}
}

/* The LF of a header line. */
static void
scan_field_end(struct mbox_scan *s, int empty)
{
	if (empty) {
		/*
		 * The empty line that ends the header ends the digest input,
		 * and is not part of it: a message whose header was the end
		 * of the file keeps its id when the separator line comes.
		 */
		s->inhead = 0;
		s->hashing = 0;
		s->have_body = 1;
		s->body = s->off + 1;
		return;
	}
	if (s->hclass == HC_UNDECIDED) {
		s->hprev = HC_KEEP;
		scan_field_decided(s, HC_KEEP, s->head, s->linepos);
	}
	if (s->hclass == HC_KEEP)
		scan_hash(s, "\n", 1);
	else if (s->hclass == HC_CL) {
		if ((s->cl_line == CLP_DIGITS && s->cl_digits) ||
		    s->cl_line == CLP_TRAIL) {
			if (s->cl_state == CL_NONE) {
				s->cl_state = CL_OK;
				s->cl_value = s->cl_line_value;
			}
		} else
			s->cl_state = CL_BAD;
	}
	s->hashing = 0;
}

/* One of the first octets of a line (not an LF). */
static void
scan_head(struct mbox_scan *s, unsigned char c)
{
	s->head[s->linepos++] = c;
	s->last_cr = c == '\r';
	s->off++;
	if (s->inhead) {
		scan_field(s, c);
		return;
	}
	if (s->linepos < 5)
		return;
	/* A From_ line; for a single message (whole), only the first. */
	if (s->prev_empty && memcmp(s->head, "From ", 5) == 0 &&
	    !(s->whole && s->inmsg)) {
		scan_boundary(s);
		return;
	}
	/* A body line: nothing of it goes into the digest. */
	if (!s->inmsg)
		scan_fail(s, MBOX_SCAN_NOT_MBOX);
}

static void
scan_lf(struct mbox_scan *s)
{
	int	 empty;

	empty = s->linepos == 0 || (s->linepos == 1 && s->head[0] == '\r');
	if (!s->inmsg) {
		scan_fail(s, MBOX_SCAN_NOT_MBOX);
		return;
	}
	if (!s->last_cr)
		s->extra++;		/* LF becomes CRLF */
	if (s->fromline) {
		scan_hash(s, "\n", 1);
		s->fromline = 0;
		s->hashing = 0;
		if (s->off + 1 - s->cur_from > UINT32_MAX) {
			scan_fail(s, MBOX_SCAN_LONG_FROM);
			return;
		}
		s->content = s->off + 1;
		s->content_extra = s->extra;
		s->inhead = 1;
	} else if (s->inhead)
		scan_field_end(s, empty);
	s->prev_start = s->line_start;
	s->prev_extra = s->line_extra;
	s->prev_empty = empty;
	s->off++;
	s->line_start = s->off;
	s->line_extra = s->extra;
	s->linepos = 0;
	s->last_cr = 0;
	s->hclass = HC_UNDECIDED;
}

/*
 * The body of a message (no digest input, not the From_ line), whole
 * lines inside the block: the same bookkeeping as scan_head and scan_lf
 * with one memchr per line.  Stops before a possible From_ line and
 * before a line that does not end in the block; returns where.
 */
static const unsigned char *
scan_body(struct mbox_scan *s, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char	*lf;
	uint64_t		 extra = s->extra, off = s->off;
	uint64_t		 prev_start = s->prev_start;
	uint64_t		 prev_extra = s->prev_extra;
	int			 prev_empty = s->prev_empty;

	/* Locals: stores through s could alias the octets at p. */
	while (end - p >= 5) {
		if (prev_empty && p[0] == 'F' && memcmp(p, "From ", 5) == 0)
			break;
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		prev_start = off;
		prev_extra = extra;
		prev_empty = lf == p || (lf == p + 1 && p[0] == '\r');
		if (lf == p || lf[-1] != '\r')
			extra++;		/* LF becomes CRLF */
		off += (uint64_t)(lf - p) + 1;
		p = lf + 1;
	}
	s->prev_start = prev_start;
	s->prev_extra = prev_extra;
	s->prev_empty = prev_empty;
	s->extra = extra;
	s->off = off;
	s->line_start = off;
	s->line_extra = extra;
	return p;
}

/*
 * A header line that lies whole in the block: classified at once and
 * taken in one piece, so that a header costs a memchr or two per line
 * rather than a step per octet.  The same decisions as scan_field.
 * Returns where it stopped (p when the line does not end in the block).
 */
static const unsigned char *
scan_header_line(struct mbox_scan *s, const unsigned char *p,
    const unsigned char *end)
{
	const unsigned char	*lf, *colon;
	size_t			 n, k, i;

	if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return p;
	n = (size_t)(lf - p);
	k = n < MBOX_HEAD ? n : MBOX_HEAD;
	s->head[0] = n > 0 ? p[0] : 0;		/* all scan_lf looks at */
	if (n == 0 || (n == 1 && p[0] == '\r'))
		;			/* the empty line: scan_lf ends the header */
	else if (p[0] == ' ' || p[0] == '\t')
		scan_field_folded(s, p, n);
	else if ((colon = memchr(p, ':', k)) != NULL) {
		scan_field_named(s, p, (size_t)(colon - p));
		if (s->hclass == HC_KEEP)
			scan_hash(s, colon + 1, (size_t)(lf - colon - 1));
		else if (s->hclass == HC_CL)
			for (i = (size_t)(colon - p) + 1; i < n; i++)
				scan_cl(s, p[i]);
	} else {
		s->hprev = HC_KEEP;
		scan_field_decided(s, HC_KEEP, p, n);
	}
	s->linepos = (unsigned)k;
	s->last_cr = n > 0 && p[n - 1] == '\r';
	s->off += n;
	scan_lf(s);
	return lf + 1;
}

void
mbox_scan_feed(struct mbox_scan *s, const unsigned char *p, size_t n)
{
	const unsigned char	*end = p + n, *lf, *q;
	size_t			 k, i;

	while (p < end && !s->stop) {
		if (s->linepos == 0 && !s->inhead && !s->fromline &&
		    s->inmsg && end - p >= 5) {
			if ((q = scan_body(s, p, end)) != p) {
				p = q;
				continue;
			}
		}
		if (s->linepos == 0 && s->inhead) {
			if ((q = scan_header_line(s, p, end)) != p) {
				p = q;
				continue;
			}
		}
		if (s->linepos < 5 ||
		    (s->inhead && s->hclass == HC_UNDECIDED)) {
			if (*p == '\n')
				scan_lf(s);
			else
				scan_head(s, *p);
			p++;
			continue;
		}
		/* The rest of the line matters only for its last octet. */
		lf = memchr(p, '\n', (size_t)(end - p));
		k = (size_t)((lf != NULL ? lf : end) - p);
		if (k > 0) {
			if (s->inhead && s->hclass == HC_CL)
				for (i = 0; i < k; i++)
					scan_cl(s, p[i]);
			else
				scan_hash(s, p, k);
			s->last_cr = p[k - 1] == '\r';
			s->off += k;
			p += k;
		}
		if (lf != NULL) {
			scan_lf(s);
			p++;
		}
	}
}

static void
scan_free_cand(struct mbox_scan *s)
{
	free(s->cand);
	s->cand = NULL;
	s->ncand = s->candcap = 0;
}

void
mbox_scan_finish(struct mbox_scan *s)
{
	uint64_t	 eof = s->off;

	if (s->stop)
		goto done;
	if (!s->inmsg) {
		if (s->off != 0)
			scan_fail(s, MBOX_SCAN_NOT_MBOX);
		goto done;
	}
	if (s->fromline) {
		/*
		 * The file ends inside the From_ line: the unterminated last
		 * line of a message it belongs to by Content-Length, or an
		 * empty message.
		 */
		if (!s->probe && scan_merge(s, s->off, s->extra, 1, eof))
			goto done;
		if (s->off - s->cur_from > UINT32_MAX) {
			scan_fail(s, MBOX_SCAN_LONG_FROM);
			goto done;
		}
		s->content = s->off;
		s->content_extra = s->extra;
		scan_end(s, s->off, s->extra, 0, eof);
	} else if (s->linepos == 0) {
		if (!s->whole && s->prev_empty && s->prev_start >= s->content)
			scan_end(s, s->prev_start, s->prev_extra, 0, eof);
		else
			scan_end(s, s->off, s->extra, 0, eof);
	} else {
		if (s->inhead && s->hclass == HC_UNDECIDED)
			scan_field_decided(s, HC_KEEP, s->head, s->linepos);
		/* RFC 1939 §3: the last line gets its CRLF. */
		scan_end(s, s->off, s->extra, 1, eof);
	}
done:
	scan_free_cand(s);
}

int
mbox_scan_head_digest(const struct mbox_scan *s, uint64_t rawlen,
    uint64_t size, unsigned char out[16])
{
	/* Not all of the digest input has been seen. */
	if (!s->inmsg || s->fromline || (s->inhead && s->hash_left > 0))
		return -1;
	scan_digest(&s->hash, rawlen, size, out);
	return 0;
}

static int
scan_cmp(const void *a, const void *b, void *arg)
{
	const struct mbox_msg	*m = arg;
	uint32_t		 i = *(const uint32_t *)a, j = *(const uint32_t *)b;
	int			 c;

	c = memcmp(m[i].digest, m[j].digest, sizeof(m[i].digest));
	if (c != 0)
		return c;
	return i < j ? -1 : i > j;
}

/*
 * Identical digests (the same message delivered twice in one second) get
 * 0, 1, 2... in file order, so that unique-ids are unique (RFC 1939 §7).
 */
int
mbox_scan_number_dups(struct mbox_msg *m, size_t n)
{
	uint32_t	*idx;
	size_t		 i;

	if (n < 2)
		return 0;
	if ((idx = reallocarray(NULL, n, sizeof(*idx))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, n, sizeof(*idx), scan_cmp, m);
	for (i = 1; i < n; i++)
		if (memcmp(m[idx[i]].digest, m[idx[i - 1]].digest,
		    sizeof(m->digest)) == 0)
			m[idx[i]].dup = m[idx[i - 1]].dup + 1;
	free(idx);
	return 0;
}

/* 32 hex digits of the digest, then "-N" for the N-th identical one. */
void
mbox_uid_format(const struct mbox_msg *m, char out[UID_MAX_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < sizeof(m->digest); i++) {
		out[2 * i] = hex[m->digest[i] >> 4];
		out[2 * i + 1] = hex[m->digest[i] & 15];
	}
	out[2 * i] = '\0';
	if (m->dup > 0)
		(void)snprintf(out + 2 * i, UID_MAX_LEN + 1 - 2 * i, "-%u",
		    (unsigned)m->dup);
}

enum mbox_scan_error
mbox_scan_fd(int fd, uint64_t len, size_t max, struct mbox_scan *s,
    struct mbox_scan *resume)
{
	unsigned char	*buf;
	uint64_t	 off = 0;
	size_t		 want;
	ssize_t		 n;

	mbox_scan_init(s, max);
	s->limit = len;
	if ((buf = malloc(MBOX_BUFSZ)) == NULL) {
		scan_fail(s, MBOX_SCAN_NOMEM);
		return s->error;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (off < len && !s->stop) {
		want = len - off < MBOX_BUFSZ ? (size_t)(len - off) : MBOX_BUFSZ;
		n = pread_full(fd, buf, want, (off_t)off);
		if (n < 0 || (size_t)n != want) {
			scan_fail(s, MBOX_SCAN_IO);
			break;
		}
		mbox_scan_feed(s, buf, want);
		off += want;
	}
	free(buf);
	if (s->stop) {
		scan_free_cand(s);
		return s->error;
	}
	/*
	 * Probe mode only looks for the first From_ line after `len`:
	 * Content-Length merges only within what was scanned (docs/mbox.md),
	 * so the candidates are not carried over.
	 */
	if (resume != NULL) {
		*resume = *s;
		resume->msgs = NULL;
		resume->count = resume->cap = 0;
		resume->cand = NULL;
		resume->ncand = resume->candcap = 0;
		resume->probe = 1;
	}
	mbox_scan_finish(s);
	return s->error;
}

const char *
mbox_scan_strerror(enum mbox_scan_error e)
{
	switch (e) {
	case MBOX_SCAN_OK:
		return "no error";
	case MBOX_SCAN_NOT_MBOX:
		return "does not start with a From_ line (not an mbox)";
	case MBOX_SCAN_TOO_MANY:
		return "too many messages";
	case MBOX_SCAN_LONG_FROM:
		return "From_ line too long";
	case MBOX_SCAN_NOMEM:
		return "out of memory";
	case MBOX_SCAN_IO:
		return "read error or file shrank";
	}
	return "unknown error";
}
