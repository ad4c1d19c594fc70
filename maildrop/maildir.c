/*
 * Maildir maildrops (the layout of qmail's maildir(5)): one file per
 * message in new/ or cur/, named "TIME.UNIQUE.HOST[:2,FLAGS]"; tmp/ holds
 * deliveries in progress and is never looked at.  Runs as the mail user.
 *
 * Nothing is rewritten: a session reads files and, at commit, unlinks the
 * deleted ones.  Flags are left alone (a POP3 session marks nothing seen),
 * so IMAP servers sharing the maildir see it as they left it.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <md5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir_file.h"
#include "maildir_priv.h"
#include "statedir.h"

_Static_assert(sizeof(struct maildir_msg) == 16, "maildir_msg grew");

#define MAILDIR_DIR_FLAGS \
	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

static const char *const maildir_subdir[2] = { "new", "cur" };

/*
 * Delivery time from the name's leading decimal seconds; 0 digits when
 * the name has none, and the caller uses the file's mtime instead.
 */
static size_t
maildir_time(const char *name, uint64_t *t)
{
	size_t	 i;

	*t = 0;
	for (i = 0; name[i] >= '0' && name[i] <= '9'; i++) {
		if (*t > (MAILDIR_SIZE_MAX - 9) / 10)
			*t = MAILDIR_SIZE_MAX;
		else
			*t = *t * 10 + (uint64_t)(name[i] - '0');
	}
	return i;
}

/*
 * Order of delivery: time, then the rest of the unique part, then the
 * whole name, then new/ before cur/.  A total order, so the numbering is
 * the same whatever order readdir(3) returned.
 */
static int
maildir_order(const void *pa, const void *pb, void *arg)
{
	const struct maildir_msg *a = pa, *b = pb;
	const char	*arena = arg;
	const char	*na = arena + a->name, *nb = arena + b->name;
	uint64_t	 ta, tb;
	int		 c;

	if (a->size != b->size)
		return a->size < b->size ? -1 : 1;
	na += maildir_time(na, &ta);
	nb += maildir_time(nb, &tb);
	if ((c = maildir_unique_cmp(na, nb)) != 0)
		return c;
	if ((c = strcmp(arena + a->name, arena + b->name)) != 0)
		return c;
	return (int)a->cur - (int)b->cur;
}

/* Adds one entry of new/ or cur/; MD_OK or an error already logged. */
static enum md_status
maildir_add(struct maildir *m, int cur, int dfd, const char *name,
    const struct stat *known_st)
{
	struct maildir_msg *msg;
	struct stat	 st;
	uint64_t	 t;
	int64_t		 off;
	size_t		 ncap;

	if (m->n >= MAILDROP_MAX_MESSAGES) {
		log_warnx("maildir %s: more than %d messages, refused",
		    m->path, MAILDROP_MAX_MESSAGES);
		return MD_PERM;
	}
	if (maildir_time(name, &t) == 0) {
		if (known_st != NULL)
			st = *known_st;
		else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			return MD_OK;	/* gone already */
		t = st.st_mtime > 0 ? (uint64_t)st.st_mtime : 0;
	}
	if (m->n == m->ncap) {
		ncap = m->ncap ? m->ncap * 2 : 256;
		msg = reallocarray(m->msgs, ncap, sizeof(*msg));
		if (msg == NULL) {
			log_warn("maildir %s", m->path);
			return MD_TEMP;
		}
		m->msgs = msg;
		m->ncap = ncap;
	}
	if ((off = maildir_arena_add(&m->arena, &m->used, &m->cap,
	    name)) == -1) {
		log_warnx("maildir %s: out of memory for names", m->path);
		return MD_TEMP;
	}
	msg = &m->msgs[m->n++];
	memset(msg, 0, sizeof(*msg));
	msg->size = t;
	msg->cur = cur;
	msg->name = (uint32_t)off;
	return MD_OK;
}

static enum md_status
maildir_opendir(struct maildir *m, int cur)
{
	int	 fd;

	fd = openat(m->dirfd, maildir_subdir[cur], MAILDIR_DIR_FLAGS);
	if (fd == -1) {
		if (errno == ENOENT)
			return MD_OK;	/* no mail there yet */
		log_warn("maildir %s/%s", m->path, maildir_subdir[cur]);
		return errno == ELOOP || errno == ENOTDIR ||
		    errno == EACCES ? MD_PERM : MD_TEMP;
	}
	m->subfd[cur] = fd;
	return MD_OK;
}

/* Reads new/ or cur/ into the records. */
static enum md_status
maildir_scan(struct maildir *m, int cur)
{
	enum md_status	 rc;
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	size_t		 skipped = 0;
	int		 fd, have_st;

	if ((rc = maildir_opendir(m, cur)) != MD_OK || m->subfd[cur] == -1)
		return rc;
	/* Its own open file description: subfd keeps no read offset. */
	if ((fd = openat(m->subfd[cur], ".", MAILDIR_DIR_FLAGS)) == -1 ||
	    (dir = fdopendir(fd)) == NULL) {
		log_warn("maildir %s/%s", m->path, maildir_subdir[cur]);
		if (fd != -1)
			close(fd);
		return MD_TEMP;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL)
			break;
		if (!maildir_entry_ok(fd, de->d_name, de->d_type, &st,
		    &have_st)) {
			skipped += de->d_name[0] != '.';
			continue;
		}
		if ((rc = maildir_add(m, cur, fd, de->d_name,
		    have_st ? &st : NULL)) != MD_OK)
			break;
	}
	if (rc == MD_OK && errno != 0) {
		log_warn("maildir %s/%s: readdir", m->path,
		    maildir_subdir[cur]);
		rc = MD_TEMP;
	}
	closedir(dir);
	if (skipped > 0)
		log_info("maildir %s/%s: skipped %zu entries that are not "
		    "regular files", m->path, maildir_subdir[cur], skipped);
	return rc;
}

static int
maildir_unique_order(const void *pa, const void *pb, void *arg)
{
	const struct maildir *m = arg;
	uint32_t	 a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	int		 c;

	if ((c = maildir_unique_cmp(maildir_name(m, a),
	    maildir_name(m, b))) != 0)
		return c;
	return a < b ? -1 : a > b;
}

/* Whether message i's UID would be the plain unique part. */
static int
maildir_uid_plain(const char *name)
{
	size_t	 i, len = maildir_unique_len(name);

	if (len < 1 || len > UID_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 ||
		    (unsigned char)name[i] > 0x7e)
			return 0;
	return 1;
}

/* Index into idx of a message whose unique part is key, or -1. */
static ssize_t
maildir_unique_find(const struct maildir *m, const uint32_t *idx,
    const char *key)
{
	size_t	 lo = 0, hi = m->n, mid;
	int	 c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = maildir_unique_cmp(maildir_name(m, idx[mid]), key);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * UIDs must be unique in the maildrop (RFC 1939 §7), but a unique part can
 * occur twice: a copy of a file in both new/ and cur/, or two flag
 * variants in cur/.  In each such group one message keeps the plain UID:
 * the one in cur/ (a client has seen it), then the smallest name.  The
 * others get "dup:" and the MD5 of "SUBDIR/NAME", which no plain UID can
 * equal (a unique part holds no ':').  A hashed UID that equals another
 * message's plain one is treated the same way.
 */
static enum md_status
maildir_dups(struct maildir *m)
{
	char		 hex[MD5_DIGEST_STRING_LENGTH];
	uint32_t	*idx;
	size_t		 i, j, k, lead;
	const char	*name;

	if (m->n < 2)
		return MD_OK;
	if ((idx = reallocarray(NULL, m->n, sizeof(*idx))) == NULL) {
		log_warn("maildir %s", m->path);
		return MD_TEMP;
	}
	for (i = 0; i < m->n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, m->n, sizeof(*idx), maildir_unique_order, m);
	for (i = 0; i < m->n; i = j) {
		for (j = i + 1; j < m->n && maildir_unique_cmp(
		    maildir_name(m, idx[i]), maildir_name(m, idx[j])) == 0; j++)
			continue;
		if (j - i == 1)
			continue;
		lead = idx[i];
		for (k = i + 1; k < j; k++)
			if (m->msgs[idx[k]].cur > m->msgs[lead].cur ||
			    (m->msgs[idx[k]].cur == m->msgs[lead].cur &&
			    strcmp(maildir_name(m, idx[k]),
			    maildir_name(m, lead)) < 0))
				lead = idx[k];
		for (k = i; k < j; k++)
			m->msgs[idx[k]].dup = idx[k] != lead;
	}
	for (i = 0; i < m->n; i++) {
		name = maildir_name(m, i);
		if (m->msgs[i].dup || maildir_uid_plain(name))
			continue;
		MD5Data((const uint8_t *)name, maildir_unique_len(name), hex);
		if (maildir_unique_find(m, idx, hex) != -1)
			m->msgs[i].dup = 1;
	}
	free(idx);
	return MD_OK;
}

static void
maildir_free(struct maildir *m)
{
	int	 i;

	if (m == NULL)
		return;
	if (m->lockfd != -1)
		close(m->lockfd);
	if (m->dirfd != -1)
		close(m->dirfd);
	for (i = 0; i < 2; i++)
		if (m->subfd[i] != -1)
			close(m->subfd[i]);
	maildir_file_free_moved(&m->moved);
	free(m->msgs);
	free(m->arena);
	free(m->buf);
	free(m);
}

/*
 * One session at a time (Dovecot and popa3d let two sessions DELE and
 * commit together): the state directory's session lock, keyed by the
 * maildir directory itself, which works across hosts on NFS where a
 * flock(2) of a directory cannot.
 */
static enum md_status
maildir_open_dir(struct maildir *m, const char *path, int statefd)
{
	struct stat	 st;
	char		 key[STATEDIR_KEY_MAX];

	if ((m->dirfd = open(path, MAILDIR_DIR_FLAGS)) == -1) {
		if (errno == ENOENT)
			return MD_OK;	/* an empty maildrop; never created */
		if (errno == ELOOP || errno == ENOTDIR || errno == EACCES) {
			log_warn("maildir %s: refused", m->path);
			return MD_PERM;
		}
		log_warn("maildir %s", m->path);
		return MD_TEMP;
	}
	if (fstat(m->dirfd, &st) == -1) {
		log_warn("maildir %s: fstat", m->path);
		return MD_TEMP;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("maildir %s: owned by uid %lu, not by uid %lu, "
		    "refused", m->path, (unsigned long)st.st_uid,
		    (unsigned long)geteuid());
		return MD_PERM;
	}
	return maildrop_lock_session(statefd, m->dirfd, m->path, key,
	    &m->lockfd);
}

/* A failed lock keeps nothing open. */
static enum md_status
maildir_lock_op(struct maildrop *md, const char *path)
{
	struct maildir	*m;
	enum md_status	 rc;
	size_t		 len = strlen(path);
	char		 real[PATH_MAX], esc[PATH_MAX];

	md->count = 0;
	md->priv = NULL;
	/* A trailing '/' makes open(2) follow a symlink despite O_NOFOLLOW. */
	while (len > 1 && path[len - 1] == '/')
		len--;
	/* The path holds the home directory: escaped once for every log. */
	log_escape(path, len, esc, sizeof(esc));
	if (len >= sizeof(real)) {
		log_warnx("maildir %s: path too long", esc);
		return MD_PERM;
	}
	memcpy(real, path, len);
	real[len] = '\0';
	if ((m = calloc(1, sizeof(*m) + strlen(esc) + 1)) == NULL) {
		log_warn("%s", __func__);
		return MD_TEMP;
	}
	m->dirfd = m->lockfd = m->subfd[0] = m->subfd[1] = -1;
	memcpy(m->path, esc, strlen(esc) + 1);
	if ((rc = maildir_open_dir(m, real, md->statefd)) != MD_OK) {
		maildir_free(m);
		return rc;
	}
	md->priv = m;
	return MD_OK;
}

static enum md_status
maildir_open(struct maildrop *md)
{
	struct maildir	*m = md->priv;
	enum md_status	 rc;
	size_t		 i;

	if (m->dirfd != -1) {
		if ((rc = maildir_scan(m, MAILDIR_NEW)) != MD_OK ||
		    (rc = maildir_scan(m, MAILDIR_CUR)) != MD_OK)
			return rc;
		if (m->n > 1)
			qsort_r(m->msgs, m->n, sizeof(*m->msgs),
			    maildir_order, m->arena);
		if ((rc = maildir_dups(m)) != MD_OK)
			return rc;
		for (i = 0; i < m->n; i++)
			m->msgs[i].size = 0;	/* the sort key is done with */
	}
	md->count = m->n;
	return MD_OK;
}

static enum md_status
maildir_uid(struct maildrop *md, size_t i, char out[UID_MAX_LEN + 1])
{
	struct maildir	*m = md->priv;
	const char	*name;
	MD5_CTX		 ctx;
	char		 hex[MD5_DIGEST_STRING_LENGTH];

	if (m == NULL || i >= m->n)
		return MD_GONE;
	name = maildir_name(m, i);
	if (m->msgs[i].dup) {
		MD5Init(&ctx);
		MD5Update(&ctx, (const uint8_t *)maildir_subdir[m->msgs[i].cur],
		    3);
		MD5Update(&ctx, (const uint8_t *)"/", 1);
		MD5Update(&ctx, (const uint8_t *)name, strlen(name));
		MD5End(&ctx, hex);
		snprintf(out, UID_MAX_LEN + 1, "dup:%s", hex);
	} else if (maildir_uid_plain(name)) {
		memcpy(out, name, maildir_unique_len(name));
		out[maildir_unique_len(name)] = '\0';
	} else
		MD5Data((const uint8_t *)name, maildir_unique_len(name), out);
	return MD_OK;
}

/*
 * Maildir++ quota: a maildir with a "maildirsize" file keeps in it the
 * bytes and the number of its messages, one line per change, and whoever
 * deletes mail appends "-BYTES -COUNT".  The line goes in one write(2)
 * with O_APPEND, so that it cannot interleave with an MDA's own line.  A
 * file grown past 5120 octets is for the MDA to recalculate (the
 * convention lets any writer do it, but only the MDA knows the quota
 * definition line is still right): it is appended to all the same.  A
 * maildir without the file has no quota; the file is never created.
 * Failing to update it costs the user a quota that looks fuller than it
 * is until the next recalculation, never mail: it is logged only.
 */
#define MAILDIR_QUOTA_FILE	"maildirsize"

static void
maildir_quota_deleted(struct maildir *m, uint64_t bytes, uint64_t count)
{
	struct stat	 st;
	char		 line[64];
	int		 fd, n;

	if (count == 0)
		return;
	fd = openat(m->dirfd, MAILDIR_QUOTA_FILE, O_WRONLY | O_APPEND |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		if (errno != ENOENT)
			log_warn("maildir %s: open %s", m->path,
			    MAILDIR_QUOTA_FILE);
		return;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("maildir %s: %s is not a regular file, not updated",
		    m->path, MAILDIR_QUOTA_FILE);
		(void)close(fd);
		return;
	}
	n = snprintf(line, sizeof(line), "-%llu -%llu\n",
	    (unsigned long long)bytes, (unsigned long long)count);
	if (write(fd, line, (size_t)n) != n)
		log_warn("maildir %s: append to %s", m->path,
		    MAILDIR_QUOTA_FILE);
	(void)close(fd);
}

/* unlinkat, with the size of what was unlinked in *st (0 if unknown). */
static int
maildir_unlink_sized(int dfd, const char *name, struct stat *st)
{
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
		st->st_size = 0;
	return unlinkat(dfd, name, 0);
}

/*
 * UPDATE state (RFC 1939 §6).  Every deletion is tried even after one
 * failed; a file already gone counts as deleted.  The directories are
 * fsync'ed so that a message once reported deleted does not come back
 * after a crash.  What this session unlinked is then taken off the
 * Maildir++ quota: file sizes as stat(2) gives them just before the
 * unlink; a file already gone was someone else's deletion.
 */
static enum md_status
maildir_commit(struct maildrop *md, const unsigned char *deleted)
{
	struct maildir	*m = md->priv;
	enum md_status	 rc = MD_OK;
	char		 esc[256 * 4 + 1];
	const char	*name;
	struct stat	 st;
	uint64_t	 qbytes = 0, qcount = 0;
	int		 touched[2] = { 0, 0 }, sub, k, r, saved;
	size_t		 i;

	if (m == NULL || m->dirfd == -1)
		return MD_OK;
	for (i = 0; i < m->n; i++) {
		if (!deleted[i])
			continue;
		sub = m->msgs[i].cur;
		r = maildir_unlink_sized(m->subfd[sub], maildir_name(m, i), &st);
		if (r == -1 && errno == ENOENT) {
			/* Renamed into cur/ by an IMAP server meanwhile? */
			if (maildir_file_relocate(m, i) == 0) {
				sub = m->msgs[i].cur;
				r = maildir_unlink_sized(m->subfd[sub],
				    maildir_name(m, i), &st);
			} else
				errno = ENOENT;
		}
		touched[sub] = 1;
		if (r == 0) {
			qbytes += (uint64_t)st.st_size;
			qcount++;
			continue;
		}
		saved = errno;
		name = maildir_log_name(maildir_name(m, i), esc, sizeof(esc));
		if (saved == ENOENT) {
			log_info("maildir %s: %s/%s was already gone",
			    m->path, maildir_subdir[sub], name);
			continue;
		}
		errno = saved;
		log_warn("maildir %s: unlink %s/%s", m->path,
		    maildir_subdir[sub], name);
		rc = MD_TEMP;
	}
	for (k = 0; k < 2; k++)
		if (touched[k] && fsync(m->subfd[k]) == -1) {
			log_warn("maildir %s: fsync %s", m->path,
			    maildir_subdir[k]);
			rc = MD_TEMP;
		}
	maildir_quota_deleted(m, qbytes, qcount);
	return rc;
}

static void
maildir_close(struct maildrop *md)
{
	maildir_free(md->priv);
	md->priv = NULL;
	md->count = 0;
}

const struct maildrop_ops maildir_ops = {
	.name = "maildir",
	.lock = maildir_lock_op,
	.open = maildir_open,
	.size = maildir_file_size,
	.uid = maildir_uid,
	.source = maildir_file_source,
	.verify = maildir_file_verify,
	.commit = maildir_commit,
	.close = maildir_close,
};
