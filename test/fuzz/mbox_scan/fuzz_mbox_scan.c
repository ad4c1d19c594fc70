/*
 * libFuzzer target for the mbox scanner (maildrop/mbox_scan.c): the input
 * is an mbox, fed in blocks whose sizes come from its first byte; the
 * messages found must be those of the naive reference parser (the From_
 * rule, then Content-Length merges), with the octet counts of
 * crlf_measure(); every unique-id must be unique, 1 to 70 octets of
 * 0x21-0x7E; and each message scanned again alone, as RETR and TOP
 * check it, must give the same record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mbox.h"
#include "test/unit/mbox_ref.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
uid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
check_uids(struct mbox_msg *m, size_t n)
{
	char	(*u)[UID_MAX_LEN + 1];
	size_t	 i, j;

	if (mbox_scan_number_dups(m, n) == -1)
		abort();
	if ((u = calloc(n + 1, sizeof(*u))) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		mbox_uid_format(&m[i], u[i]);
		if (u[i][0] == '\0' || strlen(u[i]) > UID_MAX_LEN)
			abort();
		for (j = 0; u[i][j] != '\0'; j++)
			if (u[i][j] < 0x21 || u[i][j] > 0x7e)
				abort();
	}
	qsort(u, n, sizeof(*u), uid_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(u[i - 1], u[i]) == 0)
			abort();
	free(u);
}

/* One message fed alone in whole mode, as RETR and TOP check it. */
static void
check_whole(const uint8_t *p, const struct mbox_msg *m, size_t chunk)
{
	struct mbox_scan	 w;
	struct mbox_msg		 r;
	unsigned char		 d[16];
	size_t			 len = m->fromlen + m->rawlen, off, k;
	int			 rc;

	mbox_scan_init_whole(&w, &r);
	for (off = 0; off < len; off += k) {
		k = chunk == 0 || len - off < chunk ? len - off : chunk;
		mbox_scan_feed(&w, p + m->from + off, k);
	}
	rc = mbox_scan_head_digest(&w, m->rawlen, m->size, d);
	if (rc == -1 ? !(w.fromline || w.inhead) :
	    memcmp(d, m->digest, 16) != 0)
		abort();
	mbox_scan_finish(&w);
	if (w.error != MBOX_SCAN_OK || w.count != 1 ||
	    r.fromlen != m->fromlen || r.rawlen != m->rawlen ||
	    r.size != m->size || memcmp(r.digest, m->digest, 16) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_scan	 s;
	struct ref_msg		*ref;
	size_t			 chunk, off, k, rc, i;

	if (size == 0)
		return 0;
	chunk = data[0] % 17;		/* 0: one block */
	data++;
	size--;
	mbox_scan_init(&s, SIZE_MAX);
	for (off = 0; off < size; off += k) {
		k = chunk == 0 ? size : chunk;
		if (k > size - off)
			k = size - off;
		mbox_scan_feed(&s, data + off, k);
	}
	mbox_scan_finish(&s);
	if ((ref = calloc(size / 5 + 2, sizeof(*ref))) == NULL)
		abort();
	rc = ref_parse(data, size, ref, size / 5 + 2);
	if (rc == (size_t)-1) {
		if (s.error != MBOX_SCAN_NOT_MBOX)
			abort();
	} else {
		if (s.error != MBOX_SCAN_OK || s.count != rc)
			abort();
		for (i = 0; i < rc; i++)
			if (s.msgs[i].from != ref[i].from ||
			    s.msgs[i].fromlen != ref[i].content - ref[i].from ||
			    s.msgs[i].rawlen != ref[i].rawlen ||
			    s.msgs[i].size != ref[i].size)
				abort();
		for (i = 0; i < rc; i++)
			check_whole(data, &s.msgs[i], chunk);
		check_uids(s.msgs, s.count);
	}
	free(ref);
	free(s.msgs);
	return 0;
}
