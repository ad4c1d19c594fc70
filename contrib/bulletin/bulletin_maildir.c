/*
 * Maildir delivery (the maildir(5) protocol: write in tmp/, then link
 * into new/).  The file's unique name is derived from the bulletin,
 * "bulletin-NAME" (NAME without ".msg"), so delivering twice would meet
 * the first copy: the link fails with EEXIST, and the repair after a
 * crash can look for it by name in new/ and in cur/ (where a POP3 or
 * IMAP server may have moved it, with ":2,FLAGS" added).
 *
 * Order:  "pending NAME" -> tmp/UNIQUE written and fsync'ed -> link to
 * new/UNIQUE -> fsync new/ -> unlink tmp/UNIQUE -> "done NAME".
 *
 * Before each delivery, new/ and cur/ are searched for UNIQUE: found,
 * only "done" is written.  So a run killed anywhere (which leaves
 * "pending" without "done") is repaired by the next one: the message is
 * there and is recorded, or it is not and is delivered (tmp/UNIQUE is
 * simply rewritten); a lost or removed record costs no second copy.  The name makes two
 * copies in the maildrop impossible.  What a crash can cost: if the user
 * deletes the copy with another mail client after the crash and before
 * the next bulletin run, that run cannot tell it from "never delivered"
 * and delivers it again (pop3d itself cannot do this: the next login
 * runs bulletin before it opens the maildrop).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bulletin.h"
#include "bulletin_format.h"
#include "bulletin_record.h"
#include "xio.h"

#define MD_DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

struct md {
	const char	*path;
	int		 fd, tmp, new, cur;
};

static int
md_sub(struct md *m, const char *sub, int *fd)
{
	if (mkdirat(m->fd, sub, 0700) == -1 && errno != EEXIST)
		return bulletin_error("maildir %s/%s: %s", m->path, sub,
		    strerror(errno));
	if ((*fd = openat(m->fd, sub, MD_DIR_FLAGS)) == -1)
		return bulletin_error("maildir %s/%s: %s", m->path, sub,
		    strerror(errno));
	return 0;
}

/* Opens the maildir, creating it (as an MDA would) when missing. */
static int
md_open(struct md *m, const char *path)
{
	struct stat	 st;

	m->path = path;
	m->fd = m->tmp = m->new = m->cur = -1;
	if (mkdir(path, 0700) == -1 && errno != EEXIST)
		return bulletin_error("maildir %s: %s", path, strerror(errno));
	if ((m->fd = open(path, MD_DIR_FLAGS)) == -1)
		return bulletin_error("maildir %s: %s", path, strerror(errno));
	if (fstat(m->fd, &st) == -1 || st.st_uid != geteuid())
		return bulletin_error("maildir %s: not owned by uid %lu", path,
		    (unsigned long)geteuid());
	if (md_sub(m, "tmp", &m->tmp) == -1 || md_sub(m, "new", &m->new) ==
	    -1 || md_sub(m, "cur", &m->cur) == -1)
		return -1;
	return 0;
}

static void
md_close(struct md *m)
{
	int	*fds[] = { &m->fd, &m->tmp, &m->new, &m->cur };
	size_t	 i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] != -1)
			close(*fds[i]);
}

/* "bulletin-welcome" for "welcome.msg": no ':' or '/' can occur. */
static void
md_unique(const char *name, char *out, size_t len)
{
	(void)snprintf(out, len, "bulletin-%.*s", (int)(strlen(name) - 4),
	    name);
}

/* Is UNIQUE in new/, or in cur/ with or without ":2,FLAGS"? */
static int
md_present(struct md *m, const char *unique)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 n = strlen(unique);
	int		 fd, found = 0;

	if (fstatat(m->new, unique, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if ((fd = dup(m->cur)) == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return bulletin_error("maildir %s/cur: %s", m->path,
		    strerror(errno));
	}
	while (!found && (de = readdir(d)) != NULL)
		found = strncmp(de->d_name, unique, n) == 0 &&
		    (de->d_name[n] == '\0' || de->d_name[n] == ':');
	closedir(d);
	return found;
}

static int
md_write_tmp(struct md *m, const char *unique, const struct bulletin *b)
{
	int	 fd;

	(void)unlinkat(m->tmp, unique, 0);
	fd = openat(m->tmp, unique, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return bulletin_error("maildir %s/tmp: %s", m->path,
		    strerror(errno));
	if (write_all(fd, b->data, b->len) != (ssize_t)b->len ||
	    fsync(fd) == -1) {
		close(fd);
		return bulletin_error("maildir %s/tmp: write: %s", m->path,
		    strerror(errno));
	}
	return close(fd);
}

static int
md_deliver(struct md *m, struct record *r, const struct bulletin *b,
    const char *unique)
{
	if (md_write_tmp(m, unique, b) == -1)
		return -1;
	bulletin_crash_point("maildir-tmp");
	if (linkat(m->tmp, unique, m->new, unique, 0) == -1 &&
	    errno != EEXIST)
		return bulletin_error("maildir %s/new: link: %s", m->path,
		    strerror(errno));
	if (fsync(m->new) == -1)
		return bulletin_error("maildir %s/new: fsync: %s", m->path,
		    strerror(errno));
	bulletin_crash_point("maildir-linked");
	(void)unlinkat(m->tmp, unique, 0);
	return bulletin_record_add(r, "done %s", b->name) == -1 ? -1 : 1;
}

int
bulletin_maildir_deliver(const char *path, struct record *r,
    const struct bulletin *b, const struct pending *p)
{
	struct md	 m;
	char		 unique[BULLETIN_NAME_MAX + 16];
	const char	*name = b != NULL ? b->name : p->name;
	int		 rc = -1, found;

	md_unique(name, unique, sizeof(unique));
	if (md_open(&m, path) == -1)
		goto out;
	/*
	 * Already there (a killed run's delivery, or a record the user
	 * removed): recorded, never delivered a second time.
	 */
	if ((found = md_present(&m, unique)) == -1)
		goto out;
	if (found || b == NULL) {
		(void)unlinkat(m.tmp, unique, 0);
		rc = bulletin_record_add(r, "done %s", name);
		goto out;
	}
	if (p == NULL) {
		if (bulletin_record_add(r, "pending %s", name) == -1)
			goto out;
		bulletin_crash_point("maildir-pending");
	}
	rc = md_deliver(&m, r, b, unique);
out:
	md_close(&m);
	return rc;
}
