/*
 * The mbox maildrop format: the maildrop_ops row (maildrop.h).  How the
 * parts fit is in mbox.h; what it promises is in docs/mbox.md.
 *
 * Everything here runs as the mail user after the privilege drop, never
 * as root (DESIGN.md "Who runs what").  At open, the file is opened without
 * following a symlink and without blocking on a FIFO, checked (regular,
 * ours, one link), scanned once under the MDA locks, and the MDA locks
 * are released again; the messages are then served from the open
 * descriptor.  Nothing is ever written into a message.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "xio.h"

/* How often the file may be replaced between open and lock. */
#define MBOX_OPEN_TRIES	3
#define MBOX_RETRY	(-1)

static int
mbox_paths(struct mbox *mb, const char *path)
{
	if (path[0] != '/' ||
	    strlcpy(mb->path, path, sizeof(mb->path)) >= sizeof(mb->path))
		return -1;
	if (mda_lock_init(&mb->mda, -1, path) == -1)
		return -1;
	return 0;
}

/* DESIGN.md "Files users can write": only a regular file of ours, one link. */
static enum md_status
mbox_check(const struct mbox *mb, const struct stat *sb)
{
	if (!S_ISREG(sb->st_mode)) {
		log_warnx("%s: not a regular file, refused", mb->path);
		return MD_PERM;
	}
	if (sb->st_uid != geteuid()) {
		log_warnx("%s: owned by uid %lu, not by uid %lu, refused",
		    mb->path, (unsigned long)sb->st_uid,
		    (unsigned long)geteuid());
		return MD_PERM;
	}
	if (sb->st_nlink != 1) {
		log_warnx("%s: has %lu links, refused", mb->path,
		    (unsigned long)sb->st_nlink);
		return MD_PERM;
	}
	return MD_OK;
}

static enum md_status
mbox_open_file(struct mbox *mb)
{
	struct stat	 sb;
	int		 fl, e;

	/*
	 * Read-write, for the commit and for a write lock; a mailbox the
	 * user may only read is served read-only, and a commit with
	 * deletions then fails with [SYS/PERM].
	 */
	fl = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	mb->rdonly = 0;
	mb->fd = open(mb->path, O_RDWR | fl);
	if (mb->fd == -1 && (errno == EACCES || errno == EROFS)) {
		mb->fd = open(mb->path, O_RDONLY | fl);
		mb->rdonly = 1;
	}
	if (mb->fd == -1) {
		e = errno;
		if (e == ENOENT)
			return MD_OK;	/* empty maildrop; never created */
		if (e == ELOOP) {
			log_warnx("%s: is a symbolic link, refused", mb->path);
			return MD_PERM;
		}
		log_warn("%s: open", mb->path);
		return e == EACCES || e == EPERM || e == ENOTDIR ||
		    e == ENXIO || e == EISDIR ? MD_PERM : MD_TEMP;
	}
	if (fstat(mb->fd, &sb) == -1) {
		log_warn("%s: fstat", mb->path);
		return MD_TEMP;
	}
	if ((e = mbox_check(mb, &sb)) != MD_OK)
		return e;
	/* O_NONBLOCK was only for the open of a FIFO. */
	if ((fl = fcntl(mb->fd, F_GETFL)) == -1 ||
	    fcntl(mb->fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		log_warn("%s: fcntl", mb->path);
		return MD_TEMP;
	}
	mb->dev = sb.st_dev;
	mb->ino = sb.st_ino;
	return MD_OK;
}

int
mbox_same_file(const struct mbox *mb)
{
	struct stat	 sb;

	return lstat(mb->path, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_dev == mb->dev && sb.st_ino == mb->ino;
}

/*
 * Under the MDA locks: finish an interrupted commit, then scan.  The
 * locks are write locks when there is a record to finish, since that
 * rewrites the file.
 */
static int
mbox_load(struct mbox *mb)
{
	struct mbox_scan	 s;
	struct stat		 sb;
	enum mbox_scan_error	 e;
	int			 r;

	if ((r = mbox_journal_exists(mb)) == -1)
		return MD_TEMP;
	if ((r = mbox_lock(mb, r ? F_WRLCK : F_RDLCK)) != MD_OK)
		return r;
	if (!mbox_same_file(mb)) {
		mbox_unlock(mb);
		return MBOX_RETRY;
	}
	if (mbox_journal_recover(mb) == -1 || fstat(mb->fd, &sb) == -1) {
		mbox_unlock(mb);
		return MD_TEMP;
	}
	if (mbox_check(mb, &sb) != MD_OK) {
		mbox_unlock(mb);
		return MD_PERM;
	}
	e = mbox_scan_fd(mb->fd, (uint64_t)sb.st_size, MAILDROP_MAX_MESSAGES,
	    &s, &mb->resume);
	mbox_unlock(mb);
	if (e == MBOX_SCAN_OK && mbox_scan_number_dups(s.msgs, s.count) == -1)
		e = MBOX_SCAN_NOMEM;
	if (e != MBOX_SCAN_OK) {
		free(s.msgs);
		log_warnx("%s: %s", mb->path, mbox_scan_strerror(e));
		return e == MBOX_SCAN_NOMEM || e == MBOX_SCAN_IO ?
		    MD_TEMP : MD_PERM;
	}
	mb->msgs = s.msgs;
	mb->count = s.count;
	mb->scanned = (uint64_t)sb.st_size;
	return MD_OK;
}

static void
mbox_release(struct mbox *mb)
{
	mbox_unlock(mb);
	if (mb->lockfd != -1)
		(void)close(mb->lockfd);
	mb->lockfd = -1;
	if (mb->fd != -1)
		(void)close(mb->fd);
	mb->fd = -1;
}

static void
mbox_free(struct mbox *mb)
{
	if (mb == NULL)
		return;
	mbox_release(mb);
	free(mb->msgs);
	free(mb);
}

static void
mbox_close(struct maildrop *md)
{
	mbox_free(md->priv);
	md->priv = NULL;
	md->count = 0;
}

/* Opens the file and takes the session lock; no file: an empty maildrop. */
static enum md_status
mbox_take(struct mbox *mb)
{
	enum md_status	 st;

	if ((st = mbox_open_file(mb)) != MD_OK || mb->fd == -1)
		return st;
	return maildrop_lock_session(mb->statefd, mb->fd, mb->path, mb->key,
	    &mb->lockfd);
}

/* NULL with *st set: MD_PERM for a path that is not absolute. */
static struct mbox *
mbox_new(int statefd, const char *path, enum md_status *st)
{
	struct mbox	*mb;

	*st = MD_TEMP;
	if ((mb = calloc(1, sizeof(*mb))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	mb->fd = mb->lockfd = -1;
	mb->statefd = statefd;
	if (mbox_paths(mb, path) == -1) {
		log_warnx("%s: bad mbox path", __func__);
		free(mb);
		*st = MD_PERM;
		return NULL;
	}
	return mb;
}

/* A failed lock keeps nothing: no descriptor, no lock, no memory. */
static enum md_status
mbox_lock_op(struct maildrop *md, const char *path)
{
	struct mbox	*mb;
	enum md_status	 st;

	md->count = 0;
	md->priv = NULL;
	if ((mb = mbox_new(md->statefd, path, &st)) == NULL)
		return st;
	if ((st = mbox_take(mb)) != MD_OK) {
		mbox_free(mb);
		return st;
	}
	md->priv = mb;
	return MD_OK;
}

static enum md_status
mbox_open(struct maildrop *md)
{
	struct mbox	*mb = md->priv;
	int		 st, tries;

	if (mb->fd == -1)
		return MD_OK;		/* no file: nothing to scan */
	for (tries = 0; tries < MBOX_OPEN_TRIES; tries++) {
		if ((st = mbox_load(mb)) != MBOX_RETRY)
			break;
		/* Replaced by another program between open and lock. */
		mbox_release(mb);
		if ((st = mbox_take(mb)) != MD_OK || mb->fd == -1)
			break;
	}
	if (tries == MBOX_OPEN_TRIES) {
		log_warnx("%s: keeps being replaced", mb->path);
		st = MD_TEMP;
	}
	if (st == MD_OK)
		md->count = mb->count;
	return st;
}

/*
 * The watcher's and pop3d -R's entry: with the session lock (a session
 * that holds it finishes the record itself at its next step) and the
 * MDA write locks, finish an interrupted commit.
 */
static enum md_status
mbox_recover(int statefd, const char *path)
{
	struct mbox	*mb;
	enum md_status	 st;
	int		 r;

	if ((mb = mbox_new(statefd, path, &st)) == NULL)
		return st;
	/*
	 * Most sessions leave no record: then the session lock is not even
	 * taken, so a client that logs in again at once is not told
	 * [IN-USE] by us.
	 */
	if ((st = mbox_open_file(mb)) != MD_OK || mb->fd == -1)
		goto done;
	if (statedir_key(mb->fd, mb->key) == -1 ||
	    (r = mbox_journal_exists(mb)) == -1) {
		st = MD_TEMP;
		goto done;
	}
	if (r == 0)
		goto done;
	st = maildrop_lock_session(statefd, mb->fd, mb->path, mb->key,
	    &mb->lockfd);
	if (st == MD_IN_USE)
		st = MD_OK;	/* that session finishes it first thing */
	else if (st == MD_OK && (st = mbox_lock(mb, F_WRLCK)) == MD_OK &&
	    (!mbox_same_file(mb) || mbox_journal_recover(mb) == -1))
		st = MD_TEMP;
done:
	mbox_free(mb);
	return st;
}

static enum md_status
mbox_size(struct maildrop *md, size_t i, uint64_t *size)
{
	struct mbox	*mb = md->priv;

	if (i >= mb->count)
		return MD_GONE;
	*size = mb->msgs[i].size;
	return MD_OK;
}

static enum md_status
mbox_uid(struct maildrop *md, size_t i, char out[UID_MAX_LEN + 1])
{
	struct mbox	*mb = md->priv;

	if (i >= mb->count)
		return MD_GONE;
	mbox_uid_format(&mb->msgs[i], out);
	return MD_OK;
}

/*
 * Never serve wrong bytes (docs/mbox.md "Serving"): the file may have
 * changed since the scan (another session's QUIT, a mail reader's
 * in-place expunge), and identical From_ lines and equal sizes are
 * common, so the message is scanned again as it is sent and must give
 * the record of the scan: From_ line, stored length, size and digest.
 */
static int
mbox_verify_fail(struct mbox *mb, size_t i, const char *why)
{
	if (!mb->vbad)
		log_warnx("%s: message %zu %s since the scan, not served",
		    mb->path, i + 1, why);
	mb->vbad = 1;
	return -1;
}

/* Reads n octets at off into the check; 0, or -1 on a short read. */
static int
mbox_verify_read(struct mbox *mb, uint64_t off, uint64_t n)
{
	unsigned char	 buf[4096];
	size_t		 k;

	while (n > 0) {
		k = n < sizeof(buf) ? (size_t)n : sizeof(buf);
		if (pread_full(mb->fd, buf, k, (off_t)off) != (ssize_t)k)
			return -1;
		mbox_scan_feed(&mb->vscan, buf, k);
		off += k;
		n -= k;
	}
	return 0;
}

/*
 * A message starts the file or follows an empty line, and is followed
 * by an empty line and a From_ line, or by the end of the file (after
 * at most the final empty line).  A delivery may be under way after the
 * last message (an MDA appends without waiting for us): a From_ line
 * cut short by the end of the file counts as one.  1 if so.
 */
static int
mbox_verify_frame(const struct mbox *mb, const struct mbox_msg *m)
{
	unsigned char	 b[7];
	uint64_t	 end = m->from + m->fromlen + m->rawlen;
	ssize_t		 n;
	size_t		 sep;

	if (m->from > 0) {
		sep = m->from >= 3 ? 3 : (size_t)m->from;
		if (pread_full(mb->fd, b, sep, (off_t)(m->from - sep)) !=
		    (ssize_t)sep)
			return 0;
		if (!(sep >= 2 && memcmp(b + sep - 2, "\n\n", 2) == 0) &&
		    !(sep == 3 && memcmp(b, "\n\r\n", 3) == 0))
			return 0;
	}
	if ((n = pread_full(mb->fd, b, sizeof(b), (off_t)end)) < 0)
		return 0;
	if (n == 0)
		return 1;
	sep = b[0] == '\n' ? 1 : n >= 2 && b[0] == '\r' && b[1] == '\n' ? 2 : 0;
	if (sep == 0)
		return 0;
	if ((size_t)n < sep + 5)	/* a short read: the end of the file */
		return memcmp(b + sep, "From ", (size_t)n - sep) == 0;
	return memcmp(b + sep, "From ", 5) == 0;
}

static enum md_status
mbox_source(struct maildrop *md, size_t i, struct md_source *src)
{
	struct mbox	*mb = md->priv;
	struct mbox_msg	*m;

	if (i >= mb->count)
		return MD_GONE;
	m = &mb->msgs[i];
	mbox_scan_init_whole(&mb->vscan, &mb->vmsg);
	mb->vdone = 0;
	mb->vbad = 0;
	if (!mbox_verify_frame(mb, m) ||
	    mbox_verify_read(mb, m->from, m->fromlen) == -1 ||
	    (mb->vscan.fromline && m->rawlen > 0) ||
	    mb->vscan.error != MBOX_SCAN_OK) {
		(void)mbox_verify_fail(mb, i, "moved");
		return MD_GONE;
	}
	src->fd = mb->fd;
	src->offset = m->from + m->fromlen;
	src->length = m->rawlen;
	src->close_fd = 0;
	return MD_OK;
}

/*
 * TOP stopped early: the header may go on past what was sent; read on
 * (in blocks) until its digest input is complete.  Returns 1 when the
 * message was read to its end.
 */
static int
mbox_verify_rest(struct mbox *mb, const struct mbox_msg *m)
{
	unsigned char	 d[16];
	uint64_t	 k;

	while (mbox_scan_head_digest(&mb->vscan, m->rawlen, m->size, d) ==
	    -1 && mb->vdone < m->rawlen) {
		k = m->rawlen - mb->vdone < 4096 ? m->rawlen - mb->vdone : 4096;
		if (mbox_verify_read(mb, m->from + m->fromlen + mb->vdone,
		    k) == -1)
			return -1;
		mb->vdone += k;
	}
	return mb->vdone == m->rawlen;
}

static int
mbox_verify(struct maildrop *md, size_t i, const void *buf, size_t n)
{
	struct mbox	*mb = md->priv;
	struct mbox_msg	*m = &mb->msgs[i];
	unsigned char	 d[16];
	int		 whole = n == 1, r;

	if (mb->vbad)
		return -1;
	if (buf != NULL) {
		mbox_scan_feed(&mb->vscan, buf, n);
		mb->vdone += n;
		return mb->vdone > m->rawlen ?
		    mbox_verify_fail(mb, i, "grew") : 0;
	}
	if (!whole && (r = mbox_verify_rest(mb, m)) != 0) {
		if (r == -1)
			return mbox_verify_fail(mb, i, "shrank");
		whole = 1;
	}
	if (whole) {
		if (mb->vdone != m->rawlen)
			return mbox_verify_fail(mb, i, "shrank");
		mbox_scan_finish(&mb->vscan);
		if (mb->vscan.error != MBOX_SCAN_OK || mb->vscan.count != 1 ||
		    mb->vmsg.fromlen != m->fromlen ||
		    mb->vmsg.rawlen != m->rawlen || mb->vmsg.size != m->size ||
		    memcmp(mb->vmsg.digest, m->digest, sizeof(d)) != 0)
			return mbox_verify_fail(mb, i, "changed");
	} else if (mbox_scan_head_digest(&mb->vscan, m->rawlen, m->size,
	    d) == -1 || memcmp(d, m->digest, sizeof(d)) != 0)
		return mbox_verify_fail(mb, i, "changed");
	if (!mbox_verify_frame(mb, m))
		return mbox_verify_fail(mb, i, "changed");
	return 0;
}

const struct maildrop_ops mbox_ops = {
	.name = "mbox",
	.lock = mbox_lock_op,
	.open = mbox_open,
	.size = mbox_size,
	.uid = mbox_uid,
	.source = mbox_source,
	.verify = mbox_verify,
	.commit = mbox_commit,
	.close = mbox_close,
	.recover = mbox_recover,
};
