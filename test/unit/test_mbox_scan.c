/*
 * The mbox scanner against the naive reference parser (mbox_ref.h) and
 * crlf_measure(): framing, sizes and digests on fixed cases and on
 * random mbox-like inputs fed in blocks of every size; unique-ids.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
			if (memcmp(w.msgs[i].digest, s.msgs[i].digest, 16) != 0)
				ok = 0;
		free(w.msgs);
	}
	if (!ok) {
		fprintf(stderr, "disagreement (chunk %zu) on: ", chunk);
		fwrite(p, 1, n, stderr);
		fprintf(stderr, "\n[ref %zd, scan %zu err %d]\n", (ssize_t)rc,
		    s.count, s.error);
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
}

/* Random inputs built from the tokens that matter to the scanner. */
static void
test_random(void)
{
	static const char *tok[] = {
		"From ", "From a b\n", "\n", "\r\n", "\r", ".", "..", "x",
		"Subject: y\n", ">From ", "\0", "\xff", "F", "From", " ",
	};
	unsigned char	 buf[600];
	size_t		 n, t, l, iter;

	for (iter = 0; iter < 20000; iter++) {
		n = 0;
		if (rnd() % 8 != 0) {
			memcpy(buf, "From a\n", 7);
			n = 7;
		}
		while (n < sizeof(buf) - 16 && rnd() % 64 != 0) {
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

	/* An X-UIDL header is content like any other (docs/mbox.md). */
	uids("From a\nX-UIDL: same\n\nA\n\nFrom b\nX-UIDL: same\n\nB\n\n", &a);
	mbox_uid_format(&a.msgs[0], u1);
	mbox_uid_format(&a.msgs[1], u2);
	CHECK(strcmp(u1, u2) != 0 && strstr(u1, "same") == NULL);
	free(a.msgs);
}

/* Content-Length never frames: one bad header cannot swallow mail. */
static void
test_content_length(void)
{
	struct mbox_scan	 s;

	uids("From a\nContent-Length: 0\n\nbody\n\nFrom b\n"
	    "Content-Length: 999999\n\nB\n\nFrom c\n\nC\n", &s);
	CHECK(s.count == 3);
	CHECK(s.msgs[0].rawlen == strlen("Content-Length: 0\n\nbody\n"));
	CHECK(s.msgs[1].rawlen == strlen("Content-Length: 999999\n\nB\n"));
	free(s.msgs);
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
	test_uid();
	test_content_length();
	test_hash();
	test_limits();
	CHECK_DONE();
}
