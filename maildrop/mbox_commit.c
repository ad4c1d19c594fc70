/*
 * The UPDATE state of an mbox session (RFC 1939 §6): remove the deleted
 * messages, lose nothing else.  Under the MDA locks (dotlock, then a
 * fcntl write lock):
 *
 *  1. finish a rewrite that an earlier process left half done
 *     (mbox_journal.c); if there was one, the file changed: MD_TEMP;
 *  2. check that the part of the file scanned at login is unchanged: the
 *     same file at the path, at least as long, and scanning it again
 *     gives exactly the same messages (offsets, lengths, sizes, digests);
 *     otherwise nothing is deleted and the client gets [SYS/TEMP];
 *  3. look at what was appended since (new mail) without trusting it to
 *     start cleanly: bytes before its first From_ line belong to the
 *     last scanned message;
 *  4. plan: keep [0, first deleted message), then the kept messages
 *     after it, then the new mail;
 *  5. when nothing is to be kept after the first deleted message, one
 *     ftruncate(2), which is atomic; otherwise the journaled in-place
 *     rewrite of mbox_journal.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "xio.h"

static int
commit_same_msgs(const struct mbox_msg *a, const struct mbox_msg *b,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (a[i].from != b[i].from || a[i].fromlen != b[i].fromlen ||
		    a[i].rawlen != b[i].rawlen || a[i].size != b[i].size ||
		    memcmp(a[i].digest, b[i].digest, sizeof(a->digest)) != 0)
			return 0;
	return 1;
}

/* Step 2: 1 unchanged, 0 changed, -1 error. */
static int
commit_verify(struct mbox *mb)
{
	struct mbox_scan	 s;
	enum mbox_scan_error	 e;
	int			 same;

	e = mbox_scan_fd(mb->fd, mb->scanned, MAILDROP_MAX_MESSAGES, &s,
	    NULL);
	if (e == MBOX_SCAN_NOMEM || e == MBOX_SCAN_IO) {
		free(s.msgs);
		log_warnx("%s: %s", mb->path, mbox_scan_strerror(e));
		return -1;
	}
	same = e == MBOX_SCAN_OK && s.count == mb->count &&
	    commit_same_msgs(s.msgs, mb->msgs, s.count);
	free(s.msgs);
	return same;
}

/*
 * Step 3: where new mail starts (the first From_ line after the scanned
 * part, by the rules of the scan resumed where it ended), and whether
 * the bytes before it are blank (only CR and LF).  -1 on read error.
 */
static int
commit_tail(struct mbox *mb, uint64_t size, uint64_t *start, int *blank)
{
	struct mbox_scan	 t = mb->resume;
	unsigned char		*buf;
	uint64_t		 off = mb->scanned, nonblank = UINT64_MAX;
	size_t			 want, j;

	*blank = 1;
	*start = size;
	if (off == size)
		return 0;
	if ((buf = malloc(MBOX_BUFSZ)) == NULL)
		return -1;
	while (off < size && !t.stop) {
		want = size - off < MBOX_BUFSZ ? (size_t)(size - off) :
		    MBOX_BUFSZ;
		if (pread_full(mb->fd, buf, want, (off_t)off) != (ssize_t)want) {
			free(buf);
			return -1;
		}
		mbox_scan_feed(&t, buf, want);
		/*
		 * The first octet that is not CR or LF; the From_ line
		 * found may have begun in an earlier block, so blankness is
		 * judged against its offset at the end, not per block.
		 */
		for (j = 0; j < want && nonblank == UINT64_MAX; j++)
			if (buf[j] != '\r' && buf[j] != '\n')
				nonblank = off + j;
		off += want;
	}
	free(buf);
	if (t.error != MBOX_SCAN_OK) {
		errno = EINVAL;
		return -1;
	}
	if (t.stop)
		*start = t.boundary;
	*blank = nonblank >= *start;
	return 0;
}

static void
commit_add(struct mbox_plan *p, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	p->ndata += len;
	if (p->nsegs > 0 &&
	    p->segs[p->nsegs - 1].off + p->segs[p->nsegs - 1].len == off) {
		p->segs[p->nsegs - 1].len += len;
		return;
	}
	p->segs[p->nsegs].off = off;
	p->segs[p->nsegs].len = len;
	p->nsegs++;
}

/* Step 4.  Returns MD_OK, or MD_TEMP when the last message grew. */
static enum md_status
commit_plan(const struct mbox *mb, const unsigned char *deleted,
    uint64_t size, uint64_t tail, int blank, struct mbox_plan *p)
{
	size_t		 i, first, last = mb->count - 1;
	uint64_t	 end;

	for (first = 0; !deleted[first]; first++)
		continue;
	/*
	 * Bytes appended to the last message without a From_ line: if it
	 * is to be deleted, only blank lines (a separator an MDA added
	 * late) may go with it; anything else was never seen by the client.
	 */
	if (deleted[last] && tail > mb->scanned && !blank) {
		log_warnx("%s: last message grew during the session",
		    mb->path);
		return MD_TEMP;
	}
	p->off0 = mb->msgs[first].from;
	p->size = size;
	for (i = first + 1; i < mb->count; i++) {
		if (deleted[i])
			continue;
		end = i < last ? mb->msgs[i + 1].from : tail;
		commit_add(p, mb->msgs[i].from, end - mb->msgs[i].from);
	}
	commit_add(p, tail, size - tail);
	return MD_OK;
}

static enum md_status
commit_locked(struct mbox *mb, const unsigned char *deleted,
    struct mbox_plan *p)
{
	struct stat	 sb;
	uint64_t	 tail;
	int		 r, blank;

	if ((r = mbox_journal_recover(mb)) != 0) {
		if (r == 1)
			log_warnx("%s: an interrupted commit was completed "
			    "first; deletions not applied", mb->path);
		return MD_TEMP;
	}
	if (!mbox_same_file(mb) || fstat(mb->fd, &sb) == -1 ||
	    (uint64_t)sb.st_size < mb->scanned) {
		log_warnx("%s: replaced or truncated during the session; "
		    "deletions not applied", mb->path);
		return MD_TEMP;
	}
	if ((r = commit_verify(mb)) != 1) {
		if (r == 0)
			log_warnx("%s: changed during the session; deletions "
			    "not applied", mb->path);
		return MD_TEMP;
	}
	if (commit_tail(mb, (uint64_t)sb.st_size, &tail, &blank) == -1) {
		log_warn("%s: reading new mail", mb->path);
		return MD_TEMP;
	}
	if ((p->segs = calloc(mb->count + 1, sizeof(*p->segs))) == NULL) {
		log_warn("%s", __func__);
		return MD_TEMP;
	}
	if (commit_plan(mb, deleted, (uint64_t)sb.st_size, tail, blank, p) !=
	    MD_OK)
		return MD_TEMP;
	if (p->nsegs == 0) {
		/* Only a tail of the file goes: truncation is atomic. */
		if (mbox_io_ftruncate(mb->fd, (off_t)p->off0) == -1 ||
		    mbox_io_fsync(mb->fd) == -1) {
			log_warn("%s: truncate", mb->path);
			return MD_TEMP;
		}
		return MD_OK;
	}
	return mbox_journal_commit(mb, p) == 0 ? MD_OK : MD_TEMP;
}

enum md_status
mbox_commit(struct maildrop *md, const unsigned char *deleted)
{
	struct mbox		*mb = md->priv;
	struct mbox_plan	 plan;
	enum md_status		 st;
	size_t			 i;

	for (i = 0; i < mb->count && !deleted[i]; i++)
		continue;
	if (i == mb->count)
		return MD_OK;		/* nothing to do: never touch the file */
	if (mb->rdonly) {
		log_warnx("%s: not writable for this user; deletions not "
		    "applied", mb->path);
		return MD_PERM;
	}
	if ((st = mbox_lock(mb, F_WRLCK)) != MD_OK)
		return st;
	memset(&plan, 0, sizeof(plan));
	st = commit_locked(mb, deleted, &plan);
	mbox_unlock(mb);
	free(plan.segs);
	return st;
}
