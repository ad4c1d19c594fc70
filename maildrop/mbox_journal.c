/*
 * The crash-safe in-place rewrite of an mbox (docs/mbox.md "Commit").
 *
 * The file keeps its inode, owner, group, mode, ACLs and the place MDAs
 * have open, and nothing needs write access to the spool directory: the
 * bytes that will end up at off0 and after (the kept messages after the
 * first deleted one, and new mail) are first copied into a recovery
 * record, a file of ours in the spool directory or, when the user cannot
 * create files there (Debian: /var/mail is 2775 root:mail), in the
 * home directory.  Only when the record is complete on disk (written to
 * a temp name, fsync'ed, renamed, directory fsync'ed) is the mbox
 * touched; from then on, any process that finds the record finishes the
 * rewrite, and finishing is idempotent:
 *
 *   phase 1  write a marker (a NUL and random octets, which no MDA ever
 *            writes at the start of a delivery) at off0 + ndata, inside
 *            the part that goes away; fsync; set phase 2 in the record;
 *   phase 2  copy the record's data to off0; fsync; ftruncate to
 *            off0 + ndata; fsync; unlink the record; fsync the directory.
 *
 * A process killed anywhere leaves the locks to die with it, so an MDA
 * may append mail before the next login.  The recovery tells where our
 * bytes end: in phase 1, and in phase 2 while the marker is still in
 * place, the file was not truncated yet and mail beyond the recorded
 * length is new (it is first added to a new record); in phase 2 without
 * the marker, the truncation was done and all that follows is new mail,
 * which is already where it belongs.
 *
 * Neither record nor temp file is left behind: each recovery and commit
 * removes our stale temp file, and a complete record is always finished.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "xio.h"

#define JNL_MAGIC	"pop3d mbox jnl1\n"
#define JNL_MARK_MAX	32

/* The record's header; the data follows it.  Host byte order. */
struct jnl_hdr {
	char		 magic[16];
	uint64_t	 ino;
	int64_t		 btime_sec;	/* birth time: 0 when unknown */
	uint64_t	 btime_nsec;
	uint64_t	 off0;		/* where the data goes */
	uint64_t	 ndata;
	uint64_t	 lorig;		/* our bytes end here until truncated */
	uint32_t	 phase;		/* 1 or 2; outside hdr_md5 */
	uint32_t	 marklen;
	unsigned char	 mark[JNL_MARK_MAX];
	unsigned char	 prefix_md5[16];	/* the 4 KiB before off0 */
	unsigned char	 data_md5[16];
	unsigned char	 hdr_md5[16];
};

struct jnl {
	struct mbox	*mb;
	int		 dfd;		/* directory of the record */
	int		 jfd;
	char		 name[300];
	char		 tmpname[310];
	struct jnl_hdr	 h;
	unsigned char	*buf;		/* MBOX_BUFSZ */
};

static int
jnl_names(const struct mbox *mb, struct jnl *j)
{
	const char	*base = strrchr(mb->path, '/') + 1;

	if (snprintf(j->name, sizeof(j->name), ".%s.pop3d-journal", base) >=
	    (int)sizeof(j->name) ||
	    snprintf(j->tmpname, sizeof(j->tmpname), "%s.tmp", j->name) >=
	    (int)sizeof(j->tmpname))
		return -1;
	return 0;
}

static void
jnl_birth(int fd, struct jnl_hdr *h)
{
	struct statx	 stx;

	h->btime_sec = 0;
	h->btime_nsec = 0;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 &&
	    (stx.stx_mask & STATX_BTIME)) {
		h->btime_sec = stx.stx_btime.tv_sec;
		h->btime_nsec = stx.stx_btime.tv_nsec;
	}
}

static void
jnl_hdr_md5(const struct jnl_hdr *h, unsigned char out[16])
{
	struct jnl_hdr	 c = *h;
	MD5_CTX		 ctx;

	c.phase = 0;
	memset(c.hdr_md5, 0, sizeof(c.hdr_md5));
	MD5Init(&ctx);
	MD5Update(&ctx, (const unsigned char *)&c, sizeof(c));
	MD5Final(out, &ctx);
}

/* MD5 of the up to 4 KiB of the mbox before off0: the same file? */
static int
jnl_prefix_md5(struct jnl *j, uint64_t off0, unsigned char out[16])
{
	uint64_t	 start = off0 > 4096 ? off0 - 4096 : 0;
	size_t		 n = (size_t)(off0 - start);
	MD5_CTX		 ctx;

	if (pread_full(j->mb->fd, j->buf, n, (off_t)start) != (ssize_t)n)
		return -1;
	MD5Init(&ctx);
	MD5Update(&ctx, j->buf, n);
	MD5Final(out, &ctx);
	return 0;
}

/* Copies len bytes from (from, foff) to (to, toff), hashing them. */
static int
jnl_copy(struct jnl *j, int from, uint64_t foff, int to, uint64_t toff,
    uint64_t len, MD5_CTX *ctx)
{
	size_t	 n;

	while (len > 0) {
		n = len < MBOX_BUFSZ ? (size_t)len : MBOX_BUFSZ;
		if (pread_full(from, j->buf, n, (off_t)foff) != (ssize_t)n) {
			if (errno == 0)
				errno = EIO;
			return -1;
		}
		if (ctx != NULL)
			MD5Update(ctx, j->buf, n);
		if (to != -1 &&
		    mbox_io_pwrite_all(to, j->buf, n, (off_t)toff) == -1)
			return -1;
		foff += n;
		toff += n;
		len -= n;
	}
	return 0;
}

/* Removes a stale temp file of ours from an interrupted record write. */
static void
jnl_clean_tmp(struct jnl *j)
{
	struct stat	 sb;

	if (fstatat(j->dfd, j->tmpname, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
	    mbox_io_unlinkat(j->dfd, j->tmpname, 0) == -1)
		log_warn("%s: cannot remove stale %s", j->mb->path,
		    j->tmpname);
}

/* Creates the temp file; -1 with errno. */
static int
jnl_create_tmp(struct jnl *j)
{
	jnl_clean_tmp(j);
	return mbox_io_openat(j->dfd, j->tmpname,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/*
 * A record is written to the temp file as data parts (jnl_part), then
 * the header, fsync'ed and renamed into place (jnl_seal).
 */
static int
jnl_part(struct jnl *j, int tfd, uint64_t *out, int from, uint64_t off,
    uint64_t len, MD5_CTX *ctx)
{
	if (jnl_copy(j, from, off, tfd, *out, len, ctx) == -1)
		return -1;
	*out += len;
	return 0;
}

static int
jnl_seal(struct jnl *j, int tfd, MD5_CTX *ctx)
{
	MD5Final(j->h.data_md5, ctx);
	j->h.phase = 1;
	jnl_hdr_md5(&j->h, j->h.hdr_md5);
	if (mbox_io_pwrite_all(tfd, &j->h, sizeof(j->h), 0) == -1 ||
	    mbox_io_fsync(tfd) == -1 ||
	    mbox_io_renameat(j->dfd, j->tmpname, j->dfd, j->name) == -1 ||
	    mbox_io_fsync(j->dfd) == -1)
		return -1;
	return 0;
}

static void
jnl_new_mark(struct jnl_hdr *h)
{
	uint64_t	 gone = h->lorig - h->off0 - h->ndata;

	h->marklen = gone < JNL_MARK_MAX ? (uint32_t)gone : JNL_MARK_MAX;
	arc4random_buf(h->mark, sizeof(h->mark));
	h->mark[0] = '\0';
}

/*
 * Mail appended after our recorded end while no lock was held (after a
 * crash): a new record holds the old data and that mail, so that both
 * end up at off0.  The rename replaces the old record atomically.
 */
static int
jnl_extend(struct jnl *j, uint64_t size)
{
	MD5_CTX		 ctx;
	uint64_t	 out = sizeof(j->h), lorig = j->h.lorig;
	int		 tfd;

	if ((tfd = jnl_create_tmp(j)) == -1)
		return -1;
	MD5Init(&ctx);
	if (jnl_part(j, tfd, &out, j->jfd, sizeof(j->h), j->h.ndata,
	    &ctx) == -1 ||
	    jnl_part(j, tfd, &out, j->mb->fd, lorig, size - lorig, &ctx) == -1)
		goto fail;
	j->h.ndata += size - lorig;
	j->h.lorig = size;
	jnl_new_mark(&j->h);
	if (jnl_seal(j, tfd, &ctx) == -1)
		goto fail;
	(void)close(j->jfd);
	j->jfd = tfd;
	return 0;
fail:
	/* The old record stays valid: it was only replaced by rename. */
	(void)close(tfd);
	(void)mbox_io_unlinkat(j->dfd, j->tmpname, 0);
	if (j->h.lorig != lorig) {
		/* Renamed but not synced: reload what is now the record. */
		j->h.ndata -= j->h.lorig - lorig;
		j->h.lorig = lorig;
	}
	return -1;
}

static int
jnl_mark_present(struct jnl *j, uint64_t size)
{
	unsigned char	 m[JNL_MARK_MAX];
	uint64_t	 at = j->h.off0 + j->h.ndata;

	if (size < at + j->h.marklen ||
	    pread_full(j->mb->fd, m, j->h.marklen, (off_t)at) !=
	    (ssize_t)j->h.marklen)
		return 0;
	return memcmp(m, j->h.mark, j->h.marklen) == 0;
}

/* Finishes the rewrite the record describes (see the top). */
static int
jnl_apply(struct jnl *j)
{
	struct mbox	*mb = j->mb;
	struct stat	 sb;
	uint64_t	 at = j->h.off0 + j->h.ndata;
	uint32_t	 phase2 = 2;

	for (;;) {
		if (fstat(mb->fd, &sb) == -1)
			return -1;
		if (j->h.phase == 2 && !jnl_mark_present(j, (uint64_t)sb.st_size))
			goto done;	/* truncated: the rest is new mail */
		if ((uint64_t)sb.st_size < j->h.lorig) {
			log_warnx("%s: shorter than its recovery record says",
			    mb->path);
			errno = EINVAL;
			return -1;
		}
		if ((uint64_t)sb.st_size == j->h.lorig)
			break;
		if (jnl_extend(j, (uint64_t)sb.st_size) == -1)
			return -1;
		at = j->h.off0 + j->h.ndata;
	}
	if (j->h.phase == 1) {
		if (mbox_io_pwrite_all(mb->fd, j->h.mark, j->h.marklen,
		    (off_t)at) == -1 || mbox_io_fsync(mb->fd) == -1)
			return -1;
		/*
		 * Phase 2 holds in memory only once it is on disk: the
		 * truncation must never run while the record says phase 1.
		 */
		if (mbox_io_pwrite_all(j->jfd, &phase2, sizeof(phase2),
		    offsetof(struct jnl_hdr, phase)) == -1 ||
		    mbox_io_fsync(j->jfd) == -1)
			return -1;
		j->h.phase = 2;
	}
	if (jnl_copy(j, j->jfd, sizeof(j->h), mb->fd, j->h.off0, j->h.ndata,
	    NULL) == -1 || mbox_io_fsync(mb->fd) == -1 ||
	    mbox_io_ftruncate(mb->fd, (off_t)at) == -1 ||
	    mbox_io_fsync(mb->fd) == -1)
		return -1;
done:
	if (mbox_io_unlinkat(j->dfd, j->name, 0) == -1 && errno != ENOENT)
		return -1;
	/* Not fatal: a record that comes back is finished again. */
	(void)mbox_io_fsync(j->dfd);
	return 0;
}

/* Reads and checks a record found at recovery.  0, or -1 (logged). */
static int
jnl_load(struct jnl *j)
{
	struct jnl_hdr	 c;
	struct stat	 sb;
	unsigned char	 md[16];
	MD5_CTX		 ctx;

	if (fstat(j->jfd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || sb.st_nlink != 1 ||
	    pread_full(j->jfd, &j->h, sizeof(j->h), 0) != sizeof(j->h) ||
	    memcmp(j->h.magic, JNL_MAGIC, sizeof(j->h.magic)) != 0 ||
	    (uint64_t)sb.st_size != sizeof(j->h) + j->h.ndata ||
	    (j->h.phase != 1 && j->h.phase != 2) ||
	    j->h.marklen == 0 || j->h.marklen > JNL_MARK_MAX) {
		log_warnx("%s: recovery record %s is unreadable or damaged; "
		    "left for the administrator", j->mb->path, j->name);
		return -1;
	}
	jnl_hdr_md5(&j->h, md);
	c = j->h;
	jnl_birth(j->mb->fd, &c);
	if (memcmp(md, j->h.hdr_md5, 16) != 0 || c.ino != j->mb->ino ||
	    c.btime_sec != j->h.btime_sec || c.btime_nsec != j->h.btime_nsec ||
	    jnl_prefix_md5(j, j->h.off0, md) == -1 ||
	    memcmp(md, j->h.prefix_md5, 16) != 0) {
		log_warnx("%s: recovery record %s is not for this file; "
		    "left for the administrator", j->mb->path, j->name);
		return -1;
	}
	MD5Init(&ctx);
	if (jnl_copy(j, j->jfd, sizeof(j->h), -1, 0, j->h.ndata, &ctx) == -1)
		return -1;
	MD5Final(md, &ctx);
	if (memcmp(md, j->h.data_md5, 16) != 0) {
		log_warnx("%s: recovery record %s fails its checksum; left "
		    "for the administrator", j->mb->path, j->name);
		return -1;
	}
	return 0;
}

static int
jnl_open_dir(const char *dir)
{
	if (dir[0] != '/')
		return -1;
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
jnl_init(struct jnl *j, struct mbox *mb)
{
	memset(j, 0, sizeof(*j));
	j->mb = mb;
	j->dfd = j->jfd = -1;
	if (jnl_names(mb, j) == -1)
		return -1;
	if ((j->buf = malloc(MBOX_BUFSZ)) == NULL)
		return -1;
	return 0;
}

static void
jnl_free(struct jnl *j)
{
	if (j->jfd != -1)
		(void)close(j->jfd);
	if (j->dfd != -1)
		(void)close(j->dfd);
	free(j->buf);
	j->jfd = j->dfd = -1;
}

/* The places a record may be: the spool directory, then the home. */
static const char *
jnl_dir(const struct mbox *mb, int i)
{
	if (i == 0)
		return mb->dir;
	if (i == 1 && mb->home[0] == '/' && strcmp(mb->home, mb->dir) != 0)
		return mb->home;
	return NULL;
}

int
mbox_journal_recover(struct mbox *mb)
{
	struct jnl	 j;
	const char	*dir;
	int		 i, r = 0;

	if (jnl_init(&j, mb) == -1) {
		log_warn("%s", __func__);
		jnl_free(&j);
		return -1;
	}
	for (i = 0; r == 0 && (dir = jnl_dir(mb, i)) != NULL; i++) {
		if ((j.dfd = jnl_open_dir(dir)) == -1)
			continue;
		if (!mb->rdonly)
			jnl_clean_tmp(&j);
		j.jfd = openat(j.dfd, j.name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (j.jfd == -1 && errno == EACCES)
			j.jfd = openat(j.dfd, j.name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (j.jfd == -1) {
			if (errno != ENOENT) {
				log_warn("%s: recovery record %s/%s", mb->path,
				    dir, j.name);
				r = -1;
			}
			(void)close(j.dfd);
			j.dfd = -1;
			continue;
		}
		if (jnl_load(&j) == -1)
			r = -1;
		else if (mb->rdonly) {
			log_warnx("%s: an interrupted commit needs write "
			    "access to be completed", mb->path);
			r = -1;
		} else if (jnl_apply(&j) == -1) {
			log_warn("%s: completing an interrupted commit",
			    mb->path);
			r = -1;
		} else {
			log_info("%s: completed an interrupted commit",
			    mb->path);
			r = 1;
		}
	}
	jnl_free(&j);
	return r;
}

/* Opens the first place where we can create the temp file. */
static int
jnl_place(struct jnl *j)
{
	const char	*dir;
	int		 i, tfd;

	for (i = 0; (dir = jnl_dir(j->mb, i)) != NULL; i++) {
		if ((j->dfd = jnl_open_dir(dir)) == -1)
			continue;
		if ((tfd = jnl_create_tmp(j)) != -1)
			return tfd;
		if (errno != EACCES && errno != EPERM && errno != EROFS) {
			log_warn("%s: creating %s/%s", j->mb->path, dir,
			    j->tmpname);
			return -1;
		}
		(void)close(j->dfd);
		j->dfd = -1;
	}
	log_warnx("%s: no place for the recovery record (neither %s nor "
	    "the home directory is writable); deletions not applied",
	    j->mb->path, j->mb->dir);
	return -1;
}

static int
jnl_commit(struct jnl *j, const struct mbox_plan *p)
{
	struct mbox	*mb = j->mb;
	struct rlimit	 rl;
	MD5_CTX		 ctx;
	uint64_t	 out = sizeof(j->h);
	size_t		 i;
	int		 tfd, r = 0;

	/* A file-size limit below the file: fail before touching it. */
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (p->size > rl.rlim_cur || sizeof(j->h) + p->ndata > rl.rlim_cur)) {
		log_warnx("%s: larger than the file size limit; deletions not "
		    "applied", mb->path);
		return -1;
	}
	if ((tfd = jnl_place(j)) == -1)
		return -1;
	memcpy(j->h.magic, JNL_MAGIC, sizeof(j->h.magic));
	j->h.ino = mb->ino;
	jnl_birth(mb->fd, &j->h);
	j->h.off0 = p->off0;
	j->h.ndata = p->ndata;
	j->h.lorig = p->size;
	jnl_new_mark(&j->h);
	MD5Init(&ctx);
	for (i = 0; i < p->nsegs && r == 0; i++)
		r = jnl_part(j, tfd, &out, mb->fd, p->segs[i].off,
		    p->segs[i].len, &ctx);
	if (r == -1 || jnl_prefix_md5(j, p->off0, j->h.prefix_md5) == -1 ||
	    jnl_seal(j, tfd, &ctx) == -1) {
		log_warn("%s: writing the recovery record", mb->path);
		(void)close(tfd);
		if (mbox_io_unlinkat(j->dfd, j->tmpname, 0) == -1)
			(void)mbox_io_unlinkat(j->dfd, j->name, 0);
		return -1;
	}
	j->jfd = tfd;
	/* One more try after a failure: most failures are single. */
	if (jnl_apply(j) == 0 || jnl_apply(j) == 0)
		return 0;
	log_warn("%s: commit interrupted; it is completed at the next login",
	    mb->path);
	return -1;
}

int
mbox_journal_commit(struct mbox *mb, const struct mbox_plan *p)
{
	struct jnl		 j;
	struct sigaction	 sa, osa;
	int			 r = -1;

	/* EFBIG rather than death by SIGXFSZ (setrlimit(2)). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGXFSZ, &sa, &osa);
	if (jnl_init(&j, mb) == 0)
		r = jnl_commit(&j, p);
	else
		log_warn("%s", __func__);
	jnl_free(&j);
	(void)sigaction(SIGXFSZ, &osa, NULL);
	return r;
}
