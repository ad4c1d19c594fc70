/*
 * The per-user record of bulletin(8): an append-only text file, one line
 * per event, each synced to disk before the next step:
 *
 *	pending NAME				maildir: about to deliver
 *	pending NAME DEV INO OFFSET LENGTH	mbox: about to append LENGTH
 *						octets at OFFSET (the bytes
 *						are in the stage file)
 *	done NAME				delivered (or given up for
 *						good: never delivered again)
 *
 * Appending never rewrites what is there, so a run killed in the middle
 * of a line leaves at worst an unfinished last line, which is ended and
 * ignored by the next run.  The file is locked with flock(2) for the
 * whole run: that is what makes two simultaneous logins of one user
 * deliver once.  It is the user's own file (created 0600, must be owned
 * by us, one link, not a symlink), so no other user can touch it.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulletin.h"
#include "bulletin_record.h"
#include "xio.h"

static int
record_add_done(struct record *r, const char *name)
{
	size_t	 n = strlen(name);
	char	*p;

	if ((p = realloc(r->done, r->donelen + n + 2)) == NULL)
		return bulletin_error("out of memory");
	r->done = p;
	memcpy(r->done + r->donelen, name, n);
	r->done[r->donelen + n] = '\n';
	r->donelen += n + 1;
	r->done[r->donelen] = '\0';
	return 0;
}

static void
record_drop_pending(struct record *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->npend; i++)
		if (strcmp(r->pend[i].name, name) == 0) {
			r->pend[i] = r->pend[--r->npend];
			return;
		}
}

static int
record_add_pending(struct record *r, const struct pending *p)
{
	struct pending	*np;

	record_drop_pending(r, p->name);
	np = reallocarray(r->pend, r->npend + 1, sizeof(*np));
	if (np == NULL)
		return bulletin_error("out of memory");
	r->pend = np;
	r->pend[r->npend++] = *p;
	return 0;
}

/* One line; lines we do not understand (an unfinished one) are skipped. */
static int
record_line(struct record *r, char *line)
{
	struct pending	 p;
	unsigned long long dev, ino;
	char		 name[BULLETIN_NAME_MAX + 2], tail;
	int		 n;

	memset(&p, 0, sizeof(p));
	if (sscanf(line, "done %65s%c", name, &tail) == 1 &&
	    bulletin_name_valid(name)) {
		record_drop_pending(r, name);
		return bulletin_record_done(r, name) ? 0 :
		    record_add_done(r, name);
	}
	n = sscanf(line, "pending %65s %llu %llu %llu %llu%c", name, &dev,
	    &ino, &p.off, &p.len, &tail);
	if ((n != 1 && n != 5) || !bulletin_name_valid(name))
		return 0;
	strlcpy(p.name, name, sizeof(p.name));
	if (n == 5) {
		p.mbox = 1;
		p.dev = (dev_t)dev;
		p.ino = (ino_t)ino;
	}
	return record_add_pending(r, &p);
}

static int
record_read(struct record *r, off_t size)
{
	char	*buf, *line, *nl;
	ssize_t	 n;
	int	 unfinished;

	if ((buf = malloc((size_t)size + 1)) == NULL)
		return bulletin_error("out of memory");
	if ((n = pread_full(r->fd, buf, (size_t)size, 0)) != size) {
		free(buf);
		return bulletin_error("%s: read: %s", r->path,
		    n == -1 ? strerror(errno) : "short");
	}
	buf[size] = '\0';
	for (line = buf; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		if (record_line(r, line) == -1) {
			free(buf);
			return -1;
		}
	}
	unfinished = *line != '\0';
	free(buf);
	/* An unfinished last line (killed mid-append): end it. */
	if (unfinished && write_all(r->fd, "\n", 1) != 1)
		return bulletin_error("%s: write: %s", r->path,
		    strerror(errno));
	return 0;
}

int
bulletin_record_open(struct record *r, const char *path)
{
	struct stat	 st;

	memset(r, 0, sizeof(*r));
	if (strlcpy(r->path, path, sizeof(r->path)) >= sizeof(r->path) ||
	    snprintf(r->stage, sizeof(r->stage), "%s~", path) >=
	    (int)sizeof(r->stage)) {
		r->fd = -1;
		return bulletin_error("%s: path too long", path);
	}
	r->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	if (r->fd == -1)
		return bulletin_error("record %s: %s", path, strerror(errno));
	if (fstat(r->fd, &st) == -1)
		return bulletin_error("record %s: %s", path, strerror(errno));
	/* Ours alone: a file planted by another user is refused. */
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1)
		return bulletin_error("record %s: not a plain file of uid %lu",
		    path, (unsigned long)geteuid());
	if (st.st_size > BULLETIN_RECORD_MAX)
		return bulletin_error("record %s: too large", path);
	/* One run at a time per user; pop3d's deadline bounds the wait. */
	while (flock(r->fd, LOCK_EX) == -1)
		if (errno != EINTR)
			return bulletin_error("record %s: flock: %s", path,
			    strerror(errno));
	/* The size may have grown while we waited. */
	if (fstat(r->fd, &st) == -1)
		return bulletin_error("record %s: %s", path, strerror(errno));
	return record_read(r, st.st_size);
}

int
bulletin_record_done(const struct record *r, const char *name)
{
	const char	*p = r->done;
	size_t		 n = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == '\n')
			return 1;
		p = strchr(p, '\n') + 1;
	}
	return 0;
}

const struct pending *
bulletin_record_pending(const struct record *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->npend; i++)
		if (strcmp(r->pend[i].name, name) == 0)
			return &r->pend[i];
	return NULL;
}

int
bulletin_record_add(struct record *r, const char *fmt, ...)
{
	char	 line[256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		return bulletin_error("record line too long");
	line[n++] = '\n';
	line[n] = '\0';
	if (write_all(r->fd, line, (size_t)n) != n || fdatasync(r->fd) == -1)
		return bulletin_error("record %s: write: %s", r->path,
		    strerror(errno));
	/* Keep the parsed view in step with the file. */
	line[n - 1] = '\0';
	return record_line(r, line);
}

void
bulletin_record_close(struct record *r)
{
	if (r->fd != -1)
		close(r->fd);	/* releases the flock */
	free(r->done);
	free(r->pend);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}
