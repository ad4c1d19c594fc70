/*
 * Per-message file access for maildir.c: the exact size (measured on
 * first demand), the byte range for RETR/TOP, and finding a message again
 * after an IMAP server sharing the maildir renamed it into cur/.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maildir_file.h"
#include "maildir_priv.h"
#include "xio.h"

#define MAILDIR_BLOCK	(64 * 1024)

/* O_NONBLOCK: a FIFO put in place of a message must not hang the open. */
#define MAILDIR_FILE_FLAGS	(O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

static const char *const maildir_file_subdir[2] = { "new", "cur" };

void
maildir_file_free_moved(struct maildir_curlist *cl)
{
	free(cl->arena);
	free(cl->idx);
	memset(cl, 0, sizeof(*cl));
}

static int
maildir_file_cmp(const void *pa, const void *pb, void *arg)
{
	const char	*arena = arg;

	return maildir_unique_cmp(arena + *(const uint32_t *)pa,
	    arena + *(const uint32_t *)pb);
}

/* Lists cur/ by unique part.  0, or -1 (logged). */
static int
maildir_file_read_cur(struct maildir *m, const struct stat *dst)
{
	struct maildir_curlist *cl = &m->moved;
	struct timespec	 now;
	struct dirent	*de;
	struct stat	 st;
	uint32_t	*idx;
	int64_t		 off;
	DIR		*dir;
	size_t		 ncap;
	int		 fd, have_st, rc = -1;

	cl->valid = 0;
	cl->used = cl->n = 0;
	if ((fd = openat(m->subfd[MAILDIR_CUR], ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		log_warn("maildir %s/cur", m->path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			rc = errno == 0 ? 0 : -1;
			break;
		}
		if (!maildir_entry_ok(fd, de->d_name, de->d_type, &st,
		    &have_st))
			continue;
		if (cl->n >= MAILDROP_MAX_MESSAGES)
			break;
		if (cl->n == cl->ncap) {
			ncap = cl->ncap ? cl->ncap * 2 : 256;
			if ((idx = reallocarray(cl->idx, ncap,
			    sizeof(*idx))) == NULL)
				break;
			cl->idx = idx;
			cl->ncap = ncap;
		}
		if ((off = maildir_arena_add(&cl->arena, &cl->used, &cl->cap,
		    de->d_name)) == -1)
			break;
		cl->idx[cl->n++] = (uint32_t)off;
	}
	if (rc == -1)
		log_warnx("maildir %s/cur: cannot list it again", m->path);
	closedir(dir);
	if (rc == -1)
		return -1;
	if (cl->n > 1)
		qsort_r(cl->idx, cl->n, sizeof(*cl->idx), maildir_file_cmp,
		    cl->arena);
	cl->mtime = dst->st_mtim;
	/*
	 * Directory times tick coarsely: a rename in the same tick as the
	 * fstat above would leave mtime unchanged.  Trust an unchanged mtime
	 * only if it was already a second or more old when we listed.
	 */
	clock_gettime(CLOCK_REALTIME, &now);
	cl->settled = now.tv_sec > dst->st_mtim.tv_sec + 1;
	cl->valid = 1;
	return 0;
}

/* The one name in cur/ with name's unique part, or NULL. */
static const char *
maildir_file_lookup(const struct maildir_curlist *cl, const char *name)
{
	size_t	 lo = 0, hi = cl->n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = maildir_unique_cmp(cl->arena + cl->idx[mid], name);
		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else {
			/* Two candidates: no way to tell which is ours. */
			if ((mid > 0 && maildir_unique_cmp(cl->arena +
			    cl->idx[mid - 1], name) == 0) ||
			    (mid + 1 < cl->n && maildir_unique_cmp(cl->arena +
			    cl->idx[mid + 1], name) == 0))
				return NULL;
			return cl->arena + cl->idx[mid];
		}
	}
	return NULL;
}

/*
 * An IMAP server that sees a message moves it from new/ to cur/ and
 * appends ":2,FLAGS", and renames it in cur/ when flags change; the unique
 * part stays (maildir(5)).  cur/ is listed again only when it changed, so
 * a session that finds many moved messages lists it once.  A message
 * whose unique part is shared (dup) is never looked for: the match could
 * be another message's file.
 */
int
maildir_file_relocate(struct maildir *m, size_t i)
{
	struct maildir_curlist *cl = &m->moved;
	struct stat	 st;
	const char	*found, *old = maildir_name(m, i);
	char		 e1[1024], e2[1024];
	int64_t		 off;
	int		 fd;

	if (m->msgs[i].dup)
		return -1;
	if (m->subfd[MAILDIR_CUR] == -1) {
		if ((fd = openat(m->dirfd, "cur", O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1)
			return -1;
		m->subfd[MAILDIR_CUR] = fd;
	}
	if (fstat(m->subfd[MAILDIR_CUR], &st) == -1)
		return -1;
	if (!cl->valid || !cl->settled ||
	    st.st_mtim.tv_sec != cl->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != cl->mtime.tv_nsec)
		if (maildir_file_read_cur(m, &st) == -1)
			return -1;
	if ((found = maildir_file_lookup(cl, old)) == NULL ||
	    (m->msgs[i].cur && strcmp(found, old) == 0))
		return -1;
	log_info("maildir %s: %s/%s is now cur/%s", m->path,
	    maildir_file_subdir[m->msgs[i].cur],
	    maildir_log_name(old, e1, sizeof(e1)),
	    maildir_log_name(found, e2, sizeof(e2)));
	if (strlen(found) <= strlen(old))
		memcpy(m->arena + m->msgs[i].name, found, strlen(found) + 1);
	else {
		if ((off = maildir_arena_add(&m->arena, &m->used, &m->cap,
		    found)) == -1)
			return -1;
		m->msgs[i].name = (uint32_t)off;
	}
	m->msgs[i].cur = 1;
	return 0;
}

/* Opens message i as a regular file; MD_GONE if it is not there. */
static enum md_status
maildir_file_open(struct maildir *m, size_t i, int *fdp, struct stat *st)
{
	char	 esc[1024];
	int	 fd = -1;

	if (m->subfd[m->msgs[i].cur] != -1)
		fd = openat(m->subfd[m->msgs[i].cur], maildir_name(m, i),
		    MAILDIR_FILE_FLAGS);
	if (fd == -1 && errno == ENOENT) {
		if (maildir_file_relocate(m, i) == 0)
			fd = openat(m->subfd[m->msgs[i].cur],
			    maildir_name(m, i), MAILDIR_FILE_FLAGS);
		else
			errno = ENOENT;
	}
	if (fd == -1) {
		if (errno == ENOENT || errno == ELOOP) {
			log_info("maildir %s: %s/%s vanished", m->path,
			    maildir_file_subdir[m->msgs[i].cur],
			    maildir_log_name(maildir_name(m, i), esc,
			    sizeof(esc)));
			return MD_GONE;
		}
		log_warn("maildir %s: %s/%s", m->path,
		    maildir_file_subdir[m->msgs[i].cur],
		    maildir_log_name(maildir_name(m, i), esc, sizeof(esc)));
		return MD_TEMP;
	}
	if (fstat(fd, st) == -1) {
		log_warn("maildir %s: fstat", m->path);
		close(fd);
		return MD_TEMP;
	}
	if (!S_ISREG(st->st_mode)) {
		log_warnx("maildir %s: %s/%s is no longer a regular file",
		    m->path, maildir_file_subdir[m->msgs[i].cur],
		    maildir_log_name(maildir_name(m, i), esc, sizeof(esc)));
		close(fd);
		return MD_GONE;
	}
	*fdp = fd;
	return MD_OK;
}

/*
 * The POP3 size (RFC 1939 §11: CRLF line ends, no stuffing): the stored
 * bytes through the same converter RETR uses (crlf.h), so the two can
 * never disagree.
 */
enum md_status
maildir_file_size(struct maildrop *md, size_t i, uint64_t *size)
{
	struct maildir	*m = md->priv;
	struct crlf_state cs;
	struct stat	 st;
	enum md_status	 rc;
	uint64_t	 total = 0;
	off_t		 left;
	ssize_t		 n;
	char		 tail[2];
	int		 fd;

	if (m == NULL || i >= m->n)
		return MD_GONE;
	if (m->msgs[i].known) {
		*size = m->msgs[i].size;
		return MD_OK;
	}
	if (m->buf == NULL && (m->buf = malloc(MAILDIR_BLOCK)) == NULL) {
		log_warn("%s", __func__);
		return MD_TEMP;
	}
	if ((rc = maildir_file_open(m, i, &fd, &st)) != MD_OK)
		return rc;
	crlf_init(&cs, -1);
	/* st_size, no more: that is what source() hands to RETR. */
	for (left = st.st_size; left > 0; left -= n) {
		n = read_full(fd, m->buf, left < MAILDIR_BLOCK ?
		    (size_t)left : MAILDIR_BLOCK);
		if (n == -1) {
			log_warn("maildir %s: read", m->path);
			close(fd);
			return MD_TEMP;
		}
		if (n == 0)
			break;
		total += crlf_measure(&cs, m->buf, (size_t)n);
	}
	close(fd);
	total += crlf_finish(&cs, tail);
	if (total > MAILDIR_SIZE_MAX)
		return MD_PERM;
	m->msgs[i].size = total;
	m->msgs[i].known = 1;
	*size = total;
	return MD_OK;
}

enum md_status
maildir_file_source(struct maildrop *md, size_t i, struct md_source *src)
{
	struct maildir	*m = md->priv;
	struct stat	 st;
	enum md_status	 rc;
	int		 fd;

	if (m == NULL || i >= m->n)
		return MD_GONE;
	if ((rc = maildir_file_open(m, i, &fd, &st)) != MD_OK)
		return rc;
	src->fd = fd;
	src->offset = 0;
	src->length = (uint64_t)st.st_size;
	src->close_fd = 1;
	crlf_init(&m->vcs, -1);
	m->vsize = 0;
	return MD_OK;
}

/*
 * A file can change after its size was given (LIST, RETR's +OK): what
 * RETR sends must add up to exactly that size, or the client is cut off
 * before the final "." (maildrop.h).  Counted as it goes, so that no
 * more than the announced octets are ever sent.  TOP, or a message whose
 * size was never given, has nothing to check.
 */
int
maildir_file_verify(struct maildrop *md, size_t i, const void *buf, size_t n)
{
	struct maildir	*m = md->priv;
	char		 tail[2];

	if (m == NULL || i >= m->n || !m->msgs[i].known)
		return 0;
	if (buf != NULL)
		m->vsize += crlf_measure(&m->vcs, buf, n);
	else if (n == 1)
		m->vsize += crlf_finish(&m->vcs, tail);
	else
		return 0;
	if (m->vsize > m->msgs[i].size ||
	    (buf == NULL && m->vsize != m->msgs[i].size)) {
		log_warnx("maildir %s: message %zu changed since its size was "
		    "given, not served", m->path, i + 1);
		return -1;
	}
	return 0;
}
