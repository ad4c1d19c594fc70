/*
 * mbox delivery: append under the locks pop3d and the MTAs take (a
 * dotlock through liblockfile, then an fcntl write lock; dotlock first),
 * a "From " line, the message with its "From " lines quoted as ">From "
 * (as Postfix's local(8) and procmail do), and an empty line after it.
 *
 * Order:  bytes staged in RECORD~ (fsync) -> "pending NAME DEV INO OFF
 * LEN" -> append at OFF (fsync) -> "done NAME" -> unlink RECORD~.
 *
 * Repair of a pending delivery, under the same locks, by comparing the
 * mbox from OFF with the staged bytes:
 *   - all LEN bytes there: it was delivered; "done".
 *   - the file ends at OFF: nothing was written; deliver.
 *   - the file ends inside our bytes, and what is there is their start:
 *     the append was cut; truncate back to OFF and deliver.
 *   - anything else (another inode, a shorter file, other bytes: the
 *     mbox was rewritten or someone wrote after a stale lock): it cannot
 *     be told, so "done" -- at worst one cut copy or none, never two.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulletin.h"
#include "bulletin_format.h"
#include "bulletin_record.h"
#include "mda_lock.h"
#include "xio.h"

/* How often the file may be replaced between open and lock. */
#define MB_OPEN_TRIES	3

enum repair { REPAIR_DELIVERED, REPAIR_ABSENT };

struct mb {
	const char	*path;
	struct mda_lock	 lk;		/* dotlock + fcntl, as pop3d's */
	int		 fd;
	struct stat	 st;
	const char	*eol;		/* the file's line end: "\n", "\r\n" */
};

/* Open (or create, as an MDA would) the mbox, and refuse what pop3d does. */
static int
mb_open_file(struct mb *m)
{
	const int	 fl = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

	m->fd = open(m->path, fl);
	if (m->fd == -1 && errno == ENOENT) {
		m->fd = open(m->path, fl | O_CREAT | O_EXCL, 0600);
		if (m->fd == -1 && errno == EEXIST)
			m->fd = open(m->path, fl);	/* an MDA was first */
	}
	if (m->fd == -1)
		return bulletin_error("mbox %s: %s", m->path, strerror(errno));
	if (fstat(m->fd, &m->st) == -1)
		return bulletin_error("mbox %s: %s", m->path, strerror(errno));
	if (!S_ISREG(m->st.st_mode) || m->st.st_uid != geteuid() ||
	    m->st.st_nlink != 1)
		return bulletin_error("mbox %s: not a plain file of uid %lu "
		    "with one link", m->path, (unsigned long)geteuid());
	return 0;
}

/*
 * Is the file we hold locked still the mbox, with one link?  An MUA may
 * remove or replace a mailbox under its dotlock between our open and
 * our lock; the mail must not go into a file no one reads.
 */
static int
mb_still_there(struct mb *m)
{
	struct stat	 sb;

	return lstat(m->path, &sb) == 0 && sb.st_dev == m->st.st_dev &&
	    sb.st_ino == m->st.st_ino && m->st.st_nlink == 1;
}

/*
 * The checks pop3d makes (only a regular file of ours with one link, not
 * a symbolic link), then both locks.  The order is pop3d's mbox_open:
 * open the file, then the dotlock, then the fcntl lock (mda_lock.c).
 */
static int
mb_open(struct mb *m, const char *path)
{
	int	 tries;

	m->path = path;
	m->fd = -1;
	if (mda_lock_init(&m->lk, -1, path) == -1)
		return bulletin_error("mbox %s: path too long", path);
	for (tries = 0; tries < MB_OPEN_TRIES; tries++) {
		if (mb_open_file(m) == -1)
			return -1;
		m->lk.fd = m->fd;
		if (mda_lock(&m->lk, F_WRLCK) == -1)
			return bulletin_error("mbox %s: cannot lock it now "
			    "(the log says why)", path);
		/* The size that counts is the one under the lock. */
		if (fstat(m->fd, &m->st) == -1)
			return bulletin_error("mbox %s: %s", path,
			    strerror(errno));
		if (mb_still_there(m))
			return 0;
		mda_unlock(&m->lk);
		(void)close(m->fd);
		m->fd = -1;
	}
	return bulletin_error("mbox %s: keeps being replaced", path);
}

static void
mb_close(struct mb *m)
{
	mda_unlock(&m->lk);
	if (m->fd != -1)
		(void)close(m->fd);
	m->fd = -1;
}

/*
 * The file's line ends, and what it must end with before a "From " line
 * can follow.  The style is that of the last line end in the file's
 * last MB_TAIL octets: CRLF when a CR comes before it.  A file already
 * ending with an empty line (LF LF, or LF CR LF) needs nothing: adding a
 * line end there would make the old separator part of the last message
 * and change its size and its UIDL (docs/mbox.md "Unique ids (UIDL)").
 */
#define MB_TAIL		4096

static int
mb_separator(struct mb *m, const char **sep)
{
	char		 tail[MB_TAIL];
	const char	*lf;
	off_t		 size = m->st.st_size;
	size_t		 n;

	m->eol = "\n";
	*sep = "";
	if (size == 0)
		return 0;
	n = size < MB_TAIL ? (size_t)size : MB_TAIL;
	if (pread_full(m->fd, tail, n, size - (off_t)n) != (ssize_t)n)
		return bulletin_error("mbox %s: read: %s", m->path,
		    strerror(errno));
	if ((lf = memrchr(tail, '\n', n)) != NULL && lf > tail &&
	    lf[-1] == '\r')
		m->eol = "\r\n";
	if (tail[n - 1] != '\n')
		*sep = m->eol[1] != '\0' ? "\r\n\r\n" : "\n\n";
	else if ((n >= 2 && tail[n - 2] == '\n') ||
	    (n >= 3 && tail[n - 3] == '\n' && tail[n - 2] == '\r'))
		*sep = "";
	else
		*sep = m->eol;
	return 0;
}

static int
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	char	*p;

	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		if ((p = realloc(*buf, *cap)) == NULL)
			return bulletin_error("out of memory");
		*buf = p;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

/*
 * The octets to append: separator, From_ line, quoted message, an empty
 * line; every line end in the file's style (mb_separator).
 */
static int
mb_compose(const char *sep, const char *eol, const struct bulletin *b,
    char **out, size_t *outlen)
{
	char		 from[128];
	time_t		 now = time(NULL);
	struct tm	 tm;
	const char	*p = b->data, *end = b->data + b->len, *nl, *body;
	size_t		 len = 0, cap = 2 * b->len + 256;
	int		 crlf = eol[1] != '\0';
	char		*buf;

	if ((buf = malloc(cap)) == NULL)
		return bulletin_error("out of memory");
	(void)gmtime_r(&now, &tm);
	(void)strftime(from, sizeof(from),
	    "From MAILER-DAEMON %a %b %e %H:%M:%S %Y", &tm);
	if (buf_add(&buf, &len, &cap, sep, strlen(sep)) == -1 ||
	    buf_add(&buf, &len, &cap, from, strlen(from)) == -1 ||
	    buf_add(&buf, &len, &cap, eol, strlen(eol)) == -1)
		goto fail;
	/* Each line with the file's line end; a CRLF is kept as it is. */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		body = nl != NULL ? nl : end;
		if (crlf && body > p && body[-1] == '\r')
			body--;
		if ((size_t)(body - p) >= 5 && memcmp(p, "From ", 5) == 0 &&
		    buf_add(&buf, &len, &cap, ">", 1) == -1)
			goto fail;
		if (buf_add(&buf, &len, &cap, p, (size_t)(body - p)) == -1 ||
		    buf_add(&buf, &len, &cap, eol, strlen(eol)) == -1)
			goto fail;
		p = nl != NULL ? nl + 1 : end;
	}
	/* The empty line that separates it from the next message. */
	if (buf_add(&buf, &len, &cap, eol, strlen(eol)) == -1)
		goto fail;
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* The stage file must be ours alone, like the record beside it. */
static int
stage_ours(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_uid == geteuid() && st.st_nlink == 1;
}

static int
stage_write(const struct record *r, const char *data, size_t len)
{
	int	 fd;

	fd = open(r->stage, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return bulletin_error("%s: %s", r->stage, strerror(errno));
	if (!stage_ours(fd)) {
		close(fd);
		return bulletin_error("%s: not a plain file of uid %lu",
		    r->stage, (unsigned long)geteuid());
	}
	if (ftruncate(fd, 0) == -1 || write_all(fd, data, len) !=
	    (ssize_t)len || fsync(fd) == -1) {
		close(fd);
		return bulletin_error("%s: write: %s", r->stage,
		    strerror(errno));
	}
	return close(fd);
}

/* The staged bytes, if they are all there and ours: NULL otherwise. */
static char *
stage_read(const struct record *r, size_t len)
{
	struct stat	 st;
	char		*buf;
	int		 fd;

	if ((fd = open(r->stage, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return NULL;
	if (!stage_ours(fd) || fstat(fd, &st) == -1 ||
	    (size_t)st.st_size != len || (buf = malloc(len + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	if (pread_full(fd, buf, len, 0) != (ssize_t)len) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

/* Are the k octets at off what `want` starts with? */
static int
mb_matches(struct mb *m, off_t off, const char *want, size_t k)
{
	char	 buf[65536];
	size_t	 done = 0, n;

	while (done < k) {
		n = k - done < sizeof(buf) ? k - done : sizeof(buf);
		if (pread_full(m->fd, buf, n, off + (off_t)done) != (ssize_t)n)
			return -1;
		if (memcmp(buf, want + done, n) != 0)
			return 0;
		done += n;
	}
	return 1;
}

static int
mb_repair(struct mb *m, const struct record *r, const struct pending *p,
    enum repair *out)
{
	unsigned long long size = (unsigned long long)m->st.st_size, k;
	char		*want;
	int		 same;

	*out = REPAIR_DELIVERED;
	if (!p->mbox || m->st.st_dev != p->dev || m->st.st_ino != p->ino ||
	    size < p->off)
		return 0;
	if (size == p->off) {
		*out = REPAIR_ABSENT;
		return 0;
	}
	if ((want = stage_read(r, p->len)) == NULL)
		return 0;
	k = size - p->off < p->len ? size - p->off : p->len;
	same = mb_matches(m, (off_t)p->off, want, k);
	free(want);
	if (same == -1)
		return bulletin_error("mbox %s: read: %s", m->path,
		    strerror(errno));
	if (same && k < p->len) {
		/* Cut short: take the start back, deliver again. */
		if (ftruncate(m->fd, (off_t)p->off) == -1 ||
		    fsync(m->fd) == -1)
			return bulletin_error("mbox %s: truncate: %s",
			    m->path, strerror(errno));
		m->st.st_size = (off_t)p->off;
		*out = REPAIR_ABSENT;
	}
	return 0;
}

/*
 * Appends at the size seen under the lock.  A failure (a full disk)
 * takes back what was written, so that the pending entry finds the
 * file as it was and the next run delivers again.
 */
static int
mb_write(struct mb *m, const char *data, size_t len)
{
	off_t	 off = m->st.st_size;
	size_t	 first = len;

	if (bulletin_crash_wanted("mbox-half"))
		first = len / 2;	/* test hook: an append cut short */
	if (lseek(m->fd, off, SEEK_SET) == -1 ||
	    write_all(m->fd, data, first) != (ssize_t)first)
		goto fail;
	bulletin_crash_point("mbox-half");
	if (write_all(m->fd, data + first, len - first) !=
	    (ssize_t)(len - first) || fsync(m->fd) == -1)
		goto fail;
	return 0;
fail:
	(void)bulletin_error("mbox %s: write: %s", m->path, strerror(errno));
	if (ftruncate(m->fd, off) == 0)
		(void)fsync(m->fd);
	return -1;
}

static int
mb_append(struct mb *m, struct record *r, const struct bulletin *b)
{
	const char	*sep;
	char		*data = NULL;
	size_t		 len = 0;
	int		 rc = -1;

	if (mb_separator(m, &sep) == -1 ||
	    mb_compose(sep, m->eol, b, &data, &len) == -1)
		return -1;
	if (stage_write(r, data, len) == -1)
		goto out;
	if (bulletin_record_add(r, "pending %s %llu %llu %llu %llu", b->name,
	    (unsigned long long)m->st.st_dev, (unsigned long long)m->st.st_ino,
	    (unsigned long long)m->st.st_size, (unsigned long long)len) == -1)
		goto out;
	bulletin_crash_point("mbox-pending");
	if (mb_write(m, data, len) == -1)
		goto out;
	bulletin_crash_point("mbox-written");
	rc = bulletin_record_add(r, "done %s", b->name) == -1 ? -1 : 1;
	(void)unlink(r->stage);
out:
	free(data);
	return rc;
}

int
bulletin_mbox_deliver(const char *path, struct record *r,
    const struct bulletin *b, const struct pending *p)
{
	struct mb	 m;
	enum repair	 state = REPAIR_ABSENT;
	int		 rc = -1;

	if (mb_open(&m, path) == -1)
		goto out;
	if (p != NULL && mb_repair(&m, r, p, &state) == -1)
		goto out;
	if (state == REPAIR_DELIVERED || b == NULL) {
		rc = bulletin_record_add(r, "done %s", p != NULL ? p->name :
		    b->name);
		(void)unlink(r->stage);
		goto out;
	}
	rc = mb_append(&m, r, b);
out:
	mb_close(&m);
	return rc;
}
