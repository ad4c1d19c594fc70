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
 * Content-Length is never looked at: one bad header must not be able to
 * hide or swallow other messages.
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

/* The current message ends; its served bytes are [content, end). */
static void
scan_end(struct mbox_scan *s, uint64_t end, uint64_t extra, int unterminated)
{
	struct mbox_msg	*m;
	unsigned char	 lens[16];

	if (s->probe)
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
	m->size = m->rawlen + extra + (unterminated ? 2 : 0);
	m->dup = 0;
	/* The lengths make messages with one header and two bodies differ. */
	scan_put64(lens, m->rawlen);
	scan_put64(lens + 8, m->size);
	mbox_hash_update(&s->hash, lens, sizeof(lens));
	mbox_hash_final(&s->hash, m->digest);
}

/* A From_ line starts at line_start: end the message before it. */
static void
scan_boundary(struct mbox_scan *s)
{
	if (s->inmsg)
		scan_end(s, s->prev_start, s->prev_extra, 0);
	if (s->probe) {
		s->boundary = s->line_start;
		s->stop = 1;
		return;
	}
	if (s->stop)
		return;
	s->inmsg = 1;
	s->fromline = 1;
	s->cur_from = s->line_start;
	s->extra = 0;
	mbox_hash_init(&s->hash);
	s->hashing = 1;
	s->hash_left = MBOX_HASH_CAP;
	scan_hash(s, s->head, 5);
}

/* One of the first five octets of a line (not an LF). */
static void
scan_head(struct mbox_scan *s, unsigned char c)
{
	s->head[s->linepos++] = c;
	s->last_cr = c == '\r';
	s->off++;
	if (s->linepos < 5)
		return;
	if (s->prev_empty && memcmp(s->head, "From ", 5) == 0) {
		scan_boundary(s);
		return;
	}
	if (!s->inmsg) {
		scan_fail(s, MBOX_SCAN_NOT_MBOX);
		return;
	}
	scan_hash(s, s->head, 5);
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
	if (s->fromline) {
		scan_hash(s, "\n", 1);
		s->fromline = 0;
		if (s->off + 1 - s->cur_from > UINT32_MAX) {
			scan_fail(s, MBOX_SCAN_LONG_FROM);
			return;
		}
		s->content = s->off + 1;
	} else {
		/*
		 * The empty line that ends the header ends the digest input,
		 * and is not part of it: a message whose header was the end
		 * of the file keeps its id when the separator line comes.
		 */
		if (empty)
			s->hashing = 0;
		else {
			if (s->linepos < 5)
				scan_hash(s, s->head, s->linepos);
			scan_hash(s, "\n", 1);
		}
		if (!s->last_cr)
			s->extra++;
	}
	s->prev_start = s->line_start;
	s->prev_extra = s->line_extra;
	s->prev_empty = empty;
	s->off++;
	s->line_start = s->off;
	s->line_extra = s->extra;
	s->linepos = 0;
	s->last_cr = 0;
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

void
mbox_scan_feed(struct mbox_scan *s, const unsigned char *p, size_t n)
{
	const unsigned char	*end = p + n, *lf;
	size_t			 k;

	while (p < end && !s->stop) {
		if (s->linepos == 0 && !s->hashing && !s->fromline &&
		    s->inmsg && end - p >= 5) {
			const unsigned char *q = scan_body(s, p, end);

			if (q != p) {
				p = q;
				continue;
			}
		}
		if (s->linepos < 5) {
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

void
mbox_scan_finish(struct mbox_scan *s)
{
	if (s->stop)
		return;
	if (!s->inmsg) {
		if (s->off != 0)
			scan_fail(s, MBOX_SCAN_NOT_MBOX);
		return;
	}
	if (s->fromline) {
		/* The file ends inside the From_ line: an empty message. */
		if (s->off - s->cur_from > UINT32_MAX) {
			scan_fail(s, MBOX_SCAN_LONG_FROM);
			return;
		}
		s->content = s->off;
		scan_end(s, s->off, 0, 0);
	} else if (s->linepos == 0) {
		if (s->prev_empty && s->prev_start >= s->content)
			scan_end(s, s->prev_start, s->prev_extra, 0);
		else
			scan_end(s, s->off, s->extra, 0);
	} else {
		if (s->linepos < 5)
			scan_hash(s, s->head, s->linepos);
		/* RFC 1939 §3: the last line gets its CRLF. */
		scan_end(s, s->off, s->extra, 1);
	}
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
	if (s->stop)
		return s->error;
	if (resume != NULL) {
		*resume = *s;
		resume->msgs = NULL;
		resume->count = resume->cap = 0;
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
