/*
 * The mbox scanner against the naive reference parser (mbox_ref.h) and
 * crlf_measure(): framing, sizes and digests on fixed cases and on
 * random mbox-like inputs fed in blocks of every size; unique-ids.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "mbox.h"
#include "test/unit/mbox_ref.h"

static uint64_t	 rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* Scans p[0..n) fed in blocks of `chunk` (0: random sizes). */
static void
scan(const unsigned char *p, size_t n, size_t chunk, struct mbox_scan *s)
{
	size_t	 off = 0, k;

	mbox_scan_init(s, SIZE_MAX);
	while (off < n) {
		k = chunk ? chunk : 1 + rnd() % 9;
		if (k > n - off)
			k = n - off;
		mbox_scan_feed(s, p + off, k);
		off += k;
	}
	mbox_scan_finish(s);
}

/*
 * Each message fed again alone in whole mode (what RETR checks) gives
 * the same record, however cut; its From_ line and header alone (what
 * TOP checks) give the same digest with the stored lengths.
 */
static int
whole_agrees(const unsigned char *p, const struct mbox_msg *m, size_t chunk)
{
	struct mbox_scan	 w;
	struct mbox_msg		 r;
	unsigned char		 d[16];
	size_t			 len = m->fromlen + m->rawlen, off, k;
	int			 ok;

	mbox_scan_init_whole(&w, &r);
	for (off = 0; off < len; off += k) {
		k = len - off < chunk ? len - off : chunk;
		mbox_scan_feed(&w, p + m->from + off, k);
	}
	/* -1 only when the message ended inside its From_ line or header. */
	if (mbox_scan_head_digest(&w, m->rawlen, m->size, d) == -1)
		ok = w.fromline || w.inhead;
	else
		ok = memcmp(d, m->digest, 16) == 0;
	mbox_scan_finish(&w);
	if (!ok)
		fprintf(stderr, "head digest differs\n");
	return ok && w.error == MBOX_SCAN_OK && w.count == 1 &&
	    r.from == 0 && r.fromlen == m->fromlen && r.rawlen == m->rawlen &&
	    r.size == m->size && memcmp(r.digest, m->digest, 16) == 0;
}

static int
agree(const unsigned char *p, size_t n, size_t chunk)
{
	struct ref_msg		*ref;
	struct mbox_scan	 s;
	size_t			 rc, i;
	int			 ok = 1;

	ref = calloc(n / 5 + 2, sizeof(*ref));
	rc = ref_parse(p, n, ref, n / 5 + 2);
	scan(p, n, chunk, &s);
	if (rc == (size_t)-1)
		ok = s.error == MBOX_SCAN_NOT_MBOX;
	else if (s.error != MBOX_SCAN_OK || s.count != rc)
		ok = 0;
	else
		for (i = 0; i < rc; i++)
			if (s.msgs[i].from != ref[i].from ||
			    s.msgs[i].fromlen != ref[i].content - ref[i].from ||
			    s.msgs[i].rawlen != ref[i].rawlen ||
			    s.msgs[i].size != ref[i].size)
				ok = 0;
	if (ok && rc != (size_t)-1) {
		struct mbox_scan	 w;

		/* The digests do not depend on how the input was cut. */
		scan(p, n, n ? n : 1, &w);
		for (i = 0; i < rc; i++)
			if (memcmp(w.msgs[i].digest, s.msgs[i].digest, 16) != 0 ||
			    !whole_agrees(p, &s.msgs[i], chunk ? chunk : 3))
				ok = 0;
		free(w.msgs);
	}
	if (!ok) {
		fprintf(stderr, "disagreement (chunk %zu) on: ", chunk);
		fwrite(p, 1, n, stderr);
		fprintf(stderr, "\n[ref %zd, scan %zu err %d]\n", (ssize_t)rc,
		    s.count, s.error);
		for (i = 0; rc != (size_t)-1 && i < rc; i++)
			fprintf(stderr, "ref %zu %zu %zu %llu\n", ref[i].from,
			    ref[i].content - ref[i].from, ref[i].rawlen,
			    (unsigned long long)ref[i].size);
		for (i = 0; i < s.count; i++)
			fprintf(stderr, "scan %llu %u %llu %llu\n",
			    (unsigned long long)s.msgs[i].from,
			    s.msgs[i].fromlen,
			    (unsigned long long)s.msgs[i].rawlen,
			    (unsigned long long)s.msgs[i].size);
	}
	free(ref);
	free(s.msgs);
	return ok;
}

static void
agree_all(const char *txt, size_t n)
{
	static const size_t	 chunks[] = { 1, 2, 3, 4, 5, 6, 7, 64, 0 };
	size_t			 i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		CHECK(agree((const unsigned char *)txt, n, chunks[i]));
	CHECK(agree((const unsigned char *)txt, n, n ? n : 1));
}

#define AGREE(lit)	agree_all(lit, sizeof(lit) - 1)

static void
test_fixed(void)
{
	AGREE("");
	AGREE("From ");
	AGREE("From a");
	AGREE("From a\n");
	AGREE("From a\n\n");
	AGREE("From a\n\n\n");
	AGREE("From a\nX: y\n\nbody\n\nFrom b\nX: z\n\nbody2\n\n");
	AGREE("From a\nX: y\n\nbody\nFrom b\n");		/* no empty line */
	AGREE("From a\r\nX: y\r\n\r\nbody\r\n\r\nFrom b\r\nX: z\r\n\r\n");
	AGREE("From a\nX: y\n\nno final newline");
	AGREE("From a\nX: y\n\n.\n..\n.x\n\n");
	AGREE("From a\n\n>From b\n\nFrom c\n\n");
	AGREE("From a\nX\0y\n\n\xff\xfe\0\n\n");
	AGREE("From a\n\r\nFrom b\n\rFrom c\n\n");
	AGREE("From a\nb\r\r\n\r\r\nFrom c\n");
	AGREE("From a\n\nFrom \n\nFrom");
	AGREE("From a\n\nFrom\nFrom x\n");
	AGREE("From a\n\n\nFrom b\n\n\n");
	AGREE("From a\nx\r");
	AGREE("From a\n\r");
	AGREE("x");
	AGREE("\nFrom a\n");
	AGREE("From");
	AGREE(">From a\n");
	/* Content-Length that lands on a separator, or does not. */
	AGREE("From a\nContent-Length: 13\n\nx\n\nFrom y\n\nz\n\nFrom b\n\nB\n");
	AGREE("From a\nContent-Length: 14\n\nx\n\nFrom y\n\nz\n\n");
	AGREE("From a\nContent-Length: 13\n\nx\n\nFrom y\nContent-Length: 2"
	    "\n\nz\n\nFrom b\n\nB\n");
	AGREE("From a\nContent-Length: 11\n\nx\n\nFrom y\n\nz\n\nFrom b\n\nB\n");
	AGREE("From a\nContent-Length: 12\n\nx\n\nFrom y\n\nz\n");
	AGREE("From a\nContent-Length: 12\n\nx\n\nFrom y\n\nz\n\n");
	AGREE("From a\nContent-Length: 13\n\nx\n\nFrom y\n\nz\n\n");
	AGREE("From a\nContent-Length: 12\r\n\r\nx\r\n\r\nFrom y\r\nz\r\n");
	AGREE("From a\nContent-Length: 2\n\nx\n\nFrom b\n");
	AGREE("From a\nContent-Length: 0\n\n\nFrom b\n");
	AGREE("From a\nContent-Length: 0\n\nFrom b\n");
	AGREE("From a\ncontent-length:7 \r\n\n\nFrom b\n\nFrom c\n");
	AGREE("From a\nContent-Length: 7\n \n\n\nFrom b\n\nFrom c\n");
	AGREE("From a\nContent-Length: 7\nContent-Length: 7\n\n\nFrom b\n"
	    "\nFrom c\n");
	AGREE("From a\nContent-Length: 1\nX: 1\n\nFrom b\nContent-Length: 9\n"
	    "\n\nFrom c\n\nFrom d\n");
	/* Fields left out of the digest, folded and not. */
	AGREE("From a\nStatus: RO\nX-IMAPbase: 1 2\n\tfolded\nX: y\n\nb\n");
	AGREE("From a\nX-Keywords\nX-UID:\n\n");
}

/* Random inputs built from the tokens that matter to the scanner. */
static void
test_random(void)
{
	static const char *tok[] = {
		"From ", "From a b\n", "\n", "\r\n", "\r", ".", "..", "x",
		"Subject: y\n", ">From ", "\0", "\xff", "F", "From", " ",
		"Content-Length: 0\n", "Content-Length: 2\n",
		"Content-Length: 7\n", "content-length:12\n",
		"Content-Length: 1x\n", "Status: RO\n", "X-IMAPbase: 1\n",
		"\tfolded\n", "X-UID:", "Lines",
	};
	unsigned char	 buf[600];
	size_t		 n, t, l, iter;

	for (iter = 0; iter < 20000; iter++) {
		n = 0;
		if (rnd() % 8 != 0) {
			memcpy(buf, "From a\n", 7);
			n = 7;
		}
		while (n < sizeof(buf) - 32 && rnd() % 64 != 0) {
			t = rnd() % (sizeof(tok) / sizeof(tok[0]));
			l = t == 10 ? 1 : strlen(tok[t]);
			memcpy(buf + n, tok[t], l);
			n += l;
		}
		if (!agree(buf, n, 1 + rnd() % 11)) {
			check_failures++;
			break;
		}
	}
}

/*
 * Random mboxes as dovecot-lda writes them: a Content-Length that is
 * right, nearly right or absent, and bodies with unescaped From_ lines.
 */
static void
test_random_cl(void)
{
	static const char *tok[] = {
		"x\n", "\n", "From y\n", "\r\n", "From ", ".", "z",
		"Content-Length: 3\n",
	};
	unsigned char	 buf[2048], body[256];
	size_t		 n, b, l, t, iter, msgs;
	int		 k;

	for (iter = 0; iter < 3000; iter++) {
		n = 0;
		for (msgs = 1 + rnd() % 4; msgs > 0; msgs--) {
			for (b = 0; b < sizeof(body) - 32 && rnd() % 6 != 0;
			    b += l) {
				t = rnd() % (sizeof(tok) / sizeof(tok[0]));
				l = strlen(tok[t]);
				memcpy(body + b, tok[t], l);
			}
			k = snprintf((char *)buf + n, sizeof(buf) - n,
			    "From a\n%s%s: %zu\n\n", rnd() % 4 ? "" :
			    "X: 1\n", rnd() % 3 ? "Content-Length" : "Lines",
			    b + (rnd() % 4 == 0 ? rnd() % 3 - 1 : 0));
			n += (size_t)k;
			memcpy(buf + n, body, b);
			n += b;
			if (rnd() % 4 != 0)
				buf[n++] = '\n';
		}
		if (!agree(buf, n, 1 + rnd() % 11)) {
			check_failures++;
			break;
		}
	}
}

static void
uids(const char *txt, struct mbox_scan *s)
{
	scan((const unsigned char *)txt, strlen(txt), 4096, s);
	CHECK(s->error == MBOX_SCAN_OK);
	CHECK(mbox_scan_number_dups(s->msgs, s->count) == 0);
}

static void
test_uid(void)
{
	struct mbox_scan	 a, b;
	char			 u1[UID_MAX_LEN + 1], u2[UID_MAX_LEN + 1];
	char			 u3[UID_MAX_LEN + 1];
	size_t			 i;

	/* Identical messages: unique ids, numbered in file order. */
	uids("From a\nX: 1\n\nb\n\nFrom a\nX: 1\n\nb\n\nFrom a\nX: 1\n\nb\n\n",
	    &a);
	CHECK(a.count == 3);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&a.msgs[1], u2);
	mbox_uid_format(&a.msgs[2], u3);
	CHECK(strlen(u1) == 32 && strchr(u1, '-') == NULL);
	CHECK(strlen(u2) == 34 && strncmp(u1, u2, 32) == 0 &&
	    strcmp(u2 + 32, "-1") == 0);
	CHECK(strcmp(u3 + 32, "-2") == 0);
	for (i = 0; u3[i]; i++)
		CHECK(u3[i] >= 0x21 && u3[i] <= 0x7e);
	free(a.msgs);

	/* Another message's deletion or new mail changes no id. */
	uids("From a\nX: 1\n\nA\n\nFrom b\nX: 2\n\nB\n\nFrom c\nX: 3\n\nC\n\n",
	    &a);
	uids("From a\nX: 1\n\nA\n\nFrom c\nX: 3\n\nC\n\nFrom d\nX: 4\n\nD\n",
	    &b);
	mbox_uid_format(&a.msgs[2], u1);
	mbox_uid_format(&b.msgs[1], u2);
	CHECK(strcmp(u1, u2) == 0);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&b.msgs[0], u2);
	CHECK(strcmp(u1, u2) == 0);
	mbox_uid_format(&a.msgs[1], u2);
	CHECK(strcmp(u1, u2) != 0);
	free(a.msgs);
	free(b.msgs);

	/*
	 * A file that ended without the separator keeps its last id when
	 * an MDA adds "\n" before the next From_ line; so does a message
	 * whose header was the end of the file.
	 */
	uids("From a\nX: 1\n\nA\n", &a);
	uids("From a\nX: 1\n\nA\n\nFrom b\n\nB\n\n", &b);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&b.msgs[0], u2);
	CHECK(strcmp(u1, u2) == 0);
	CHECK(a.msgs[0].size == b.msgs[0].size);
	free(a.msgs);
	free(b.msgs);
	uids("From a\nX: 1\n", &a);
	uids("From a\nX: 1\n\nFrom b\n\nB\n\n", &b);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&b.msgs[0], u2);
	CHECK(strcmp(u1, u2) == 0);
	free(a.msgs);
	free(b.msgs);

	/*
	 * Fields that MDAs and MUAs rewrite in place are not in the digest:
	 * dovecot-lda's X-IMAPbase at every delivery, a MUA's Status, with
	 * their folded lines; any other field is.
	 */
	uids("From a\nX-IMAPbase: 1700000000 0000000001\n\t$Junk\n"
	    "Status: O\nSubject: s\n\nA\n\nFrom b\n\nB\n", &a);
	uids("From a\nX-IMAPbase: 1700000000 0000000002\n\t$Spam\n"
	    "Status: R\nSubject: s\n\nA\n\nFrom b\n\nB\n", &b);
	for (i = 0; i < 2; i++) {
		mbox_uid_format(&a.msgs[i], u1);
		mbox_uid_format(&b.msgs[i], u2);
		CHECK(strcmp(u1, u2) == 0);
	}
	free(b.msgs);
	uids("From a\nx-imapbase: 1700000000 0000000001\n\t$Junk\n"
	    "status: O\nSubject: t\n\nA\n\nFrom b\n\nB\n", &b);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&b.msgs[0], u2);
	CHECK(strcmp(u1, u2) != 0);
	free(a.msgs);
	free(b.msgs);
	/* The cap counts hashed octets: a long skipped field hides nothing. */
	{
		static char	 t1[4096], t2[4096];
		char		 kw[3001];

		memset(kw, 'k', sizeof(kw) - 1);
		kw[sizeof(kw) - 1] = '\0';
		snprintf(t1, sizeof(t1), "From a\nX-Keywords: %s\n"
		    "Received: 1\n\nA\n", kw);
		snprintf(t2, sizeof(t2), "From a\nX-Keywords: %s\n"
		    "Received: 2\n\nA\n", kw);
		uids(t1, &a);
		uids(t2, &b);
		mbox_uid_format(&a.msgs[0], u1);
		mbox_uid_format(&b.msgs[0], u2);
		CHECK(strcmp(u1, u2) != 0);
		free(a.msgs);
		free(b.msgs);
	}

	/* An X-UIDL header is content like any other (docs/mbox.md). */
	uids("From a\nX-UIDL: same\n\nA\n\nFrom b\nX-UIDL: same\n\nB\n\n", &a);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&a.msgs[1], u2);
	CHECK(strcmp(u1, u2) != 0 && strstr(u1, "same") == NULL);
	free(a.msgs);
}

static void
expect_bodies(const char *txt, const char *const *want, size_t n)
{
	struct mbox_scan	 s;
	size_t			 i;

	uids(txt, &s);
	CHECK(s.count == n);
	for (i = 0; i < n && i < s.count; i++)
		CHECK(s.msgs[i].rawlen == strlen(want[i]) &&
		    memcmp(txt + s.msgs[i].from + s.msgs[i].fromlen, want[i],
		    strlen(want[i])) == 0);
	free(s.msgs);
}

#define BODIES(txt, ...) do {						\
	static const char *const w_[] = { __VA_ARGS__ };		\
	expect_bodies(txt, w_, sizeof(w_) / sizeof(w_[0]));		\
} while (0)

/*
 * Content-Length frames only where it lands on a separator (as Dovecot
 * and mutt read it): dovecot-lda leaves a body line "From what..."
 * unescaped, and the message must stay whole; a wrong value never
 * swallows or hides other mail.
 */
static void
test_content_length(void)
{
	struct mbox_scan	 s;

	/* dovecot-lda's delivery, last in the file and in the middle. */
	BODIES("From a@b Thu Nov 20 10:00:00 2025\nContent-Length: 47\n\n"
	    "Hello,\n\nFrom what I can tell, this works.\n\nBye\n\n",
	    "Content-Length: 47\n\nHello,\n\nFrom what I can tell, this "
	    "works.\n\nBye\n");
	BODIES("From a@b Thu Nov 20 10:00:00 2025\nContent-Length: 47\n\n"
	    "Hello,\n\nFrom what I can tell, this works.\n\nBye\n",
	    "Content-Length: 47\n\nHello,\n\nFrom what I can tell, this "
	    "works.\n\nBye\n");
	BODIES("From a\nContent-Length: 47\n\n"
	    "Hello,\n\nFrom what I can tell, this works.\n\nBye\n\n"
	    "From c\nContent-Length: 2\n\nC\n\n",
	    "Content-Length: 47\n\nHello,\n\nFrom what I can tell, this "
	    "works.\n\nBye\n", "Content-Length: 2\n\nC\n");
	BODIES("From a\nContent-Length: 13\n\nx\n\nFrom y\n\nz\n\n"
	    "From b\n\nB\n", "Content-Length: 13\n\nx\n\nFrom y\n\nz\n",
	    "\nB\n");
	/* The end of the file, with or without its final empty line. */
	BODIES("From a\nContent-Length: 13\n\nx\n\nFrom y\n\nz\n\n",
	    "Content-Length: 13\n\nx\n\nFrom y\n\nz\n");
	BODIES("From a\nContent-Length: 14\n\nx\n\nFrom y\n\nz\n\n",
	    "Content-Length: 14\n\nx\n\nFrom y\n\nz\n");
	/* Wrong values: the From_ rule; nothing swallowed or hidden. */
	BODIES("From a\nContent-Length: 0\n\nbody\n\nFrom b\n"
	    "Content-Length: 999999\n\nB\n\nFrom c\n\nC\n",
	    "Content-Length: 0\n\nbody\n", "Content-Length: 999999\n\nB\n",
	    "\nC\n");
	BODIES("From a\nContent-Length: 5\n\nx\n\nFrom y\n\nz\n",
	    "Content-Length: 5\n\nx\n", "\nz\n");
	/* Landing on an empty line not followed by From_, or mid-line. */
	BODIES("From a\nContent-Length: 2\n\nx\n\ny\n\nFrom b\n\nB\n",
	    "Content-Length: 2\n\nx\n\ny\n", "\nB\n");
	BODIES("From a\nContent-Length: 12\n\nx\n\nFrom y\n\nz\n\n"
	    "From b\n\nB\n", "Content-Length: 12\n\nx\n", "\nz\n",
	    "\nB\n");
	/* Case-insensitive name; two fields, folded, junk: not used. */
	BODIES("From a\ncontent-LENGTH:\t13 \n\nx\n\nFrom y\n\nz\n",
	    "content-LENGTH:\t13 \n\nx\n\nFrom y\n\nz\n");
	BODIES("From a\nContent-Length: 13\nContent-Length: 13\n\nx\n\n"
	    "From y\n\nz\n", "Content-Length: 13\nContent-Length: 13\n\nx\n",
	    "\nz\n");
	BODIES("From a\nContent-Length: 13\n 3\n\nx\n\nFrom y\n\nz\n",
	    "Content-Length: 13\n 3\n\nx\n", "\nz\n");
	BODIES("From a\nContent-Length: +13\n\nx\n\nFrom y\n\nz\n",
	    "Content-Length: +13\n\nx\n", "\nz\n");
	/* In the body, it is no header. */
	BODIES("From a\n\nContent-Length: 13\n\nx\n\nFrom y\n\nz\n",
	    "\nContent-Length: 13\n\nx\n", "\nz\n");

	/* The merged size counts the swallowed lines with CRLF. */
	uids("From a\nContent-Length: 13\n\nx\n\nFrom y\n\nz\n", &s);
	CHECK(s.count == 1 && s.msgs[0].size ==
	    strlen("Content-Length: 13\r\n\r\nx\r\n\r\nFrom y\r\n\r\nz\r\n"));
	free(s.msgs);
}

/*
 * The state saved at the end of the scan and resumed at commit (probe
 * mode) finds where appended mail starts by the From_ rule, even when
 * the last message's Content-Length points into the appended octets:
 * Content-Length merges only within what was scanned.
 */
static void
test_resume(void)
{
	static const char old[] = "From a\nContent-Length: 20\n\nhello\n";
	static const char new[] = "\nFrom b\n\nxyz\n\n";
	struct mbox_scan	 s, r;
	int			 fd;

	fd = memfd_create("mbox", 0);
	CHECK(fd != -1 && write(fd, old, strlen(old)) == (ssize_t)strlen(old));
	CHECK(mbox_scan_fd(fd, strlen(old), SIZE_MAX, &s, &r) ==
	    MBOX_SCAN_OK && s.count == 1);
	CHECK(s.cand == NULL && r.cand == NULL && r.probe);
	mbox_scan_feed(&r, (const unsigned char *)new, strlen(new));
	CHECK(r.stop && r.boundary == strlen(old) + 1);
	free(s.msgs);
	close(fd);
}

/* The digest: cut-independent, and sensitive to every octet. */
static void
test_hash(void)
{
	struct mbox_hash	 h;
	unsigned char		 buf[200], d0[16], d1[16], d[16];
	size_t			 i, cut;
	unsigned		 bit;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 37);
	mbox_hash_init(&h);
	mbox_hash_update(&h, buf, sizeof(buf));
	mbox_hash_final(&h, d0);
	for (cut = 0; cut <= sizeof(buf); cut += 7) {
		mbox_hash_init(&h);
		mbox_hash_update(&h, buf, cut);
		mbox_hash_update(&h, buf + cut, sizeof(buf) - cut);
		mbox_hash_final(&h, d);
		CHECK(memcmp(d, d0, 16) == 0);
	}
	for (i = 0; i < sizeof(buf); i++)
		for (bit = 0; bit < 8; bit++) {
			buf[i] ^= (unsigned char)(1 << bit);
			mbox_hash_init(&h);
			mbox_hash_update(&h, buf, sizeof(buf));
			mbox_hash_final(&h, d);
			buf[i] ^= (unsigned char)(1 << bit);
			CHECK(memcmp(d, d0, 8) != 0 && memcmp(d + 8, d0 + 8, 8) != 0);
		}
	/* A longer input padded with zeros is another input. */
	mbox_hash_init(&h);
	mbox_hash_update(&h, "ab", 2);
	mbox_hash_final(&h, d0);
	mbox_hash_init(&h);
	mbox_hash_update(&h, "ab\0", 3);
	mbox_hash_final(&h, d1);
	CHECK(memcmp(d0, d1, 16) != 0);
}

static void
test_limits(void)
{
	struct mbox_scan	 s;
	const char		*t = "From a\n\nFrom b\n\nFrom c\n\n";

	mbox_scan_init(&s, 2);
	mbox_scan_feed(&s, (const unsigned char *)t, strlen(t));
	mbox_scan_finish(&s);
	CHECK(s.error == MBOX_SCAN_TOO_MANY);
	free(s.msgs);
	mbox_scan_init(&s, 3);
	mbox_scan_feed(&s, (const unsigned char *)t, strlen(t));
	mbox_scan_finish(&s);
	CHECK(s.error == MBOX_SCAN_OK && s.count == 3);
	free(s.msgs);
}

int
main(void)
{
	test_fixed();
	test_random();
	test_random_cl();
	test_uid();
	test_content_length();
	test_resume();
	test_hash();
	test_limits();
	CHECK_DONE();
}
