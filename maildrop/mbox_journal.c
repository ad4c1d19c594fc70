/*
 * The crash-safe in-place rewrite of an mbox (docs/mbox.md "Commit").
 *
 * The file keeps its inode, owner, group, mode, ACLs and the place MDAs
 * have open, and nothing needs write access to the spool directory: the
 * bytes that will end up at off0 and after (the kept messages after the
 * first deleted one, and new mail) are first copied into a recovery
 * record, STATE/UID/KEY.journal in the state directory (statedir.h):
 * the spool needs no write access (Debian: /var/mail is 2775 root:mail),
 * and every session of this mbox finds it, whatever its home.  Only when the record is complete on disk (written to
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
 * A record is applied only to the file it was made for, as it was left:
 * the header holds the inode, birth time and path, and digests of what
 * the record will change (old_digest in phase 1; in phase 2 the part
 * beyond the marker, gone_digest); any mismatch refuses the record and
 * the mailbox is not served, since applying it would overwrite what
 * another program wrote since.  A read error never removes a record.
 *
 * Neither record nor temp file is left behind: each recovery and commit
 * removes our stale temp file, and a complete record is always finished:
 * by the session's watcher as soon as the session dies, by pop3d -R at
 * boot, or by the next login.
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

#define JNL_MAGIC	"pop3d mbox jnl2\n"
#define JNL_MARK_MAX	32
#define JNL_SUFFIX	".journal"
#define JNL_TMP_SUFFIX	".journal.tmp"

/*
 * The record's header; the data follows it.  Host byte order.  The
 * record is named after the mbox's key (statedir_key: filesystem id and
 * inode), and the header says again which file it is for and what that
 * file held, so that a record is applied only to the bytes it was made
 * for: a file rewritten by another program since (a MUA's expunge) no
 * longer matches old_digest, and the record is refused, never applied.
 */
struct jnl_hdr {
	char		 magic[16];
	uint64_t	 dev;		/* st_dev when written, for the log */
	uint64_t	 ino;
	int64_t		 btime_sec;	/* birth time: 0 when unknown (NFS) */
	uint64_t	 btime_nsec;
	uint64_t	 off0;		/* where the data goes */
	uint64_t	 ndata;
	uint64_t	 lorig;		/* our bytes end here until truncated */
	uint32_t	 phase;		/* 1 or 2; outside hdr_md5 */
	uint32_t	 marklen;
	unsigned char	 mark[JNL_MARK_MAX];
	unsigned char	 prefix_md5[16];	/* the 4 KiB before off0 */
	unsigned char	 data_digest[16];	/* the data (mbox_hash) */
	/* [off0, lorig) of the file, less the marker's place (phase 1) */
	unsigned char	 old_digest[16];
	/* [marker end, lorig): what phase 2 leaves untouched */
	unsigned char	 gone_digest[16];
	char		 path[4096];	/* the mbox, for pop3d -R */
	unsigned char	 hdr_md5[16];
};

struct jnl {
	struct mbox	*mb;
	int		 dfd;		/* the state directory (not ours) */
	int		 jfd;
	char		 name[STATEDIR_KEY_MAX + sizeof(JNL_SUFFIX)];
	char		 tmpname[STATEDIR_KEY_MAX + sizeof(JNL_TMP_SUFFIX)];
	struct jnl_hdr	 h;
	unsigned char	*buf;		/* MBOX_BUFSZ */
};

static int
jnl_names(const struct mbox *mb, struct jnl *j)
{
	if (snprintf(j->name, sizeof(j->name), "%s%s", mb->key, JNL_SUFFIX) >=
	    (int)sizeof(j->name) ||
	    snprintf(j->tmpname, sizeof(j->tmpname), "%s%s", mb->key,
	    JNL_TMP_SUFFIX) >= (int)sizeof(j->tmpname))
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

/*
 * Copies len bytes from (from, foff) to (to, toff) (to == -1: only
 * reads), hashing them.  The dotlock is kept fresh meanwhile: a commit
 * that moves gigabytes must not look like a stale lock to an MDA.
 */
static int
jnl_copy(struct jnl *j, int from, uint64_t foff, int to, uint64_t toff,
    uint64_t len, struct mbox_hash *hash)
{
	size_t	 n;

	while (len > 0) {
		n = len < MBOX_BUFSZ ? (size_t)len : MBOX_BUFSZ;
		if (pread_full(from, j->buf, n, (off_t)foff) != (ssize_t)n) {
			if (errno == 0)
				errno = EIO;
			return -1;
		}
		if (hash != NULL)
			mbox_hash_update(hash, j->buf, n);
		if (to != -1 &&
		    mbox_io_pwrite_all(to, j->buf, n, (off_t)toff) == -1)
			return -1;
		mbox_lock_touch(j->mb);
		foff += n;
		toff += n;
		len -= n;
	}
	return 0;
}

/*
 * The digests of what the record will change: [off0, lorig) less the
 * marker's place (the marker may or may not have been written when a
 * phase 1 record is found), and [marker end, lorig), which phase 2 never
 * writes.  0, or -1 on a read error.
 */
static int
jnl_region(struct jnl *j, unsigned char old[16], unsigned char gone[16])
{
	struct mbox_hash h_old, h_gone;
	uint64_t	 at = j->h.off0 + j->h.ndata;
	uint64_t	 end = at + j->h.marklen;

	mbox_hash_init(&h_old);
	mbox_hash_init(&h_gone);
	if (jnl_copy(j, j->mb->fd, j->h.off0, -1, 0, at - j->h.off0,
	    &h_old) == -1 ||
	    jnl_copy(j, j->mb->fd, end, -1, 0, j->h.lorig - end, &h_gone) == -1)
		return -1;
	mbox_hash_final(&h_gone, gone);
	/* old = the part before the marker, then the part after it. */
	mbox_hash_update(&h_old, gone, 16);
	mbox_hash_final(&h_old, old);
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
    uint64_t len, struct mbox_hash *hash)
{
	if (jnl_copy(j, from, off, tfd, *out, len, hash) == -1)
		return -1;
	*out += len;
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

/* New mark and digests for the header in j->h, then into place. */
static int
jnl_seal(struct jnl *j, int tfd, struct mbox_hash *data)
{
	mbox_hash_final(data, j->h.data_digest);
	jnl_new_mark(&j->h);
	if (jnl_region(j, j->h.old_digest, j->h.gone_digest) == -1)
		return -1;
	j->h.phase = 1;
	jnl_hdr_md5(&j->h, j->h.hdr_md5);
	if (mbox_io_pwrite_all(tfd, &j->h, sizeof(j->h), 0) == -1 ||
	    mbox_io_fsync(tfd) == -1 ||
	    mbox_io_renameat(j->dfd, j->tmpname, j->dfd, j->name) == -1 ||
	    mbox_io_fsync(j->dfd) == -1)
		return -1;
	return 0;
}

/*
 * Mail appended after our recorded end while no lock was held (after a
 * crash): a new record holds the old data and that mail, so that both
 * end up at off0.  The rename replaces the old record atomically.
 */
static int
jnl_extend(struct jnl *j, uint64_t size)
{
	struct jnl_hdr	 old = j->h;
	struct mbox_hash hash;
	uint64_t	 out = sizeof(j->h);
	int		 tfd;

	if ((tfd = jnl_create_tmp(j)) == -1)
		return -1;
	mbox_hash_init(&hash);
	if (jnl_part(j, tfd, &out, j->jfd, sizeof(j->h), j->h.ndata,
	    &hash) == -1 ||
	    jnl_part(j, tfd, &out, j->mb->fd, old.lorig, size - old.lorig,
	    &hash) == -1)
		goto fail;
	j->h.ndata += size - old.lorig;
	j->h.lorig = size;
	if (jnl_seal(j, tfd, &hash) == -1)
		goto fail;
	(void)close(j->jfd);
	j->jfd = tfd;
	return 0;
fail:
	/*
	 * The old record stays valid: it was only replaced by rename, and
	 * a rename that did happen put a record as good in its place.
	 */
	(void)close(tfd);
	(void)mbox_io_unlinkat(j->dfd, j->tmpname, 0);
	j->h = old;
	return -1;
}

/* Is our marker at the end of the data?  1 yes, 0 no, -1 read error. */
static int
jnl_mark_present(struct jnl *j, uint64_t size)
{
	unsigned char	 m[JNL_MARK_MAX];
	uint64_t	 at = j->h.off0 + j->h.ndata;

	if (size < at + j->h.marklen)
		return 0;
	if (pread_full(j->mb->fd, m, j->h.marklen, (off_t)at) !=
	    (ssize_t)j->h.marklen) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
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
	int		 mark;

	for (;;) {
		if (fstat(mb->fd, &sb) == -1)
			return -1;
		if (j->h.phase == 2) {
			if ((mark = jnl_mark_present(j,
			    (uint64_t)sb.st_size)) == -1)
				return -1;
			if (mark == 0)
				goto done;	/* truncated: the rest is new mail */
		}
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

/* Reads a record's header and checks that it is whole and ours. */
static int
jnl_read_hdr(int jfd, struct jnl_hdr *h)
{
	struct stat	 sb;
	unsigned char	 md[16];

	if (fstat(jfd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || sb.st_nlink != 1 ||
	    pread_full(jfd, h, sizeof(*h), 0) != sizeof(*h) ||
	    memcmp(h->magic, JNL_MAGIC, sizeof(h->magic)) != 0 ||
	    (uint64_t)sb.st_size != sizeof(*h) + h->ndata ||
	    (h->phase != 1 && h->phase != 2) ||
	    h->marklen == 0 || h->marklen > JNL_MARK_MAX ||
	    h->off0 + h->ndata + h->marklen > h->lorig ||
	    memchr(h->path, '\0', sizeof(h->path)) == NULL)
		return -1;
	jnl_hdr_md5(h, md);
	return memcmp(md, h->hdr_md5, 16) == 0 ? 0 : -1;
}

/* Phase 2 without the marker: is our data in place at off0? */
static int
jnl_done_matches(struct jnl *j, uint64_t size)
{
	struct mbox_hash hash;
	unsigned char	 md[16];

	if (size < j->h.off0 + j->h.ndata)
		return 0;
	mbox_hash_init(&hash);
	if (jnl_copy(j, j->mb->fd, j->h.off0, -1, 0, j->h.ndata, &hash) == -1)
		return -1;
	mbox_hash_final(&hash, md);
	return memcmp(md, j->h.data_digest, 16) == 0;
}

/* Is the file what the record was made for, and still as it left it? */
static int
jnl_matches(struct jnl *j)
{
	struct jnl_hdr	 c = j->h;
	struct stat	 sb;
	unsigned char	 old[16], gone[16], md[16];
	int		 mark;

	jnl_birth(j->mb->fd, &c);
	if (c.ino != j->mb->ino || c.btime_sec != j->h.btime_sec ||
	    c.btime_nsec != j->h.btime_nsec)
		return 0;
	if (fstat(j->mb->fd, &sb) == -1)
		return -1;
	if (j->h.phase == 2) {
		if ((mark = jnl_mark_present(j, (uint64_t)sb.st_size)) == -1)
			return -1;
		/*
		 * No marker: truncated already, if [off0, at) holds our data;
		 * otherwise another program rewrote the file since.
		 */
		if (mark == 0)
			return jnl_done_matches(j, (uint64_t)sb.st_size);
	}
	/* Both phases leave [0, off0) alone. */
	if (jnl_prefix_md5(j, j->h.off0, md) == -1)
		return -1;
	if (memcmp(md, j->h.prefix_md5, 16) != 0 ||
	    (uint64_t)sb.st_size < j->h.lorig)
		return 0;
	if (jnl_region(j, old, gone) == -1)
		return -1;
	if (j->h.phase == 1)
		return memcmp(old, j->h.old_digest, 16) == 0;
	return memcmp(gone, j->h.gone_digest, 16) == 0;
}

/* Reads and checks a record found at recovery.  0, or -1 (logged). */
static int
jnl_load(struct jnl *j)
{
	struct mbox_hash hash;
	unsigned char	 md[16];
	int		 r;

	if (jnl_read_hdr(j->jfd, &j->h) == -1) {
		log_warnx("%s: recovery record %s is unreadable or damaged; "
		    "left for the administrator", j->mb->path, j->name);
		return -1;
	}
	if ((r = jnl_matches(j)) != 1) {
		if (r == 0)
			log_warnx("%s: recovery record %s does not match the "
			    "file (changed by another program since?); the "
			    "mailbox is not served until an administrator "
			    "removes it", j->mb->path, j->name);
		else
			log_warn("%s: reading for recovery record %s",
			    j->mb->path, j->name);
		return -1;
	}
	mbox_hash_init(&hash);
	if (jnl_copy(j, j->jfd, sizeof(j->h), -1, 0, j->h.ndata, &hash) == -1) {
		log_warn("%s: reading recovery record %s", j->mb->path,
		    j->name);
		return -1;
	}
	mbox_hash_final(&hash, md);
	if (memcmp(md, j->h.data_digest, 16) != 0) {
		log_warnx("%s: recovery record %s fails its checksum; left "
		    "for the administrator", j->mb->path, j->name);
		return -1;
	}
	return 0;
}

static int
jnl_init(struct jnl *j, struct mbox *mb)
{
	memset(j, 0, sizeof(*j));
	j->mb = mb;
	j->dfd = mb->statefd;
	j->jfd = -1;
	if (j->dfd == -1 || jnl_names(mb, j) == -1)
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
	free(j->buf);
	j->jfd = -1;
}

int
mbox_journal_exists(const struct mbox *mb)
{
	char	 name[STATEDIR_KEY_MAX + sizeof(JNL_SUFFIX)];

	(void)snprintf(name, sizeof(name), "%s%s", mb->key, JNL_SUFFIX);
	if (faccessat(mb->statefd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	log_warn("%s: recovery record %s", mb->path, name);
	return -1;
}

int
mbox_journal_recover(struct mbox *mb)
{
	struct sigaction sa, osa;
	struct jnl	 j;
	int		 r = -1;

	if (jnl_init(&j, mb) == -1) {
		log_warn("%s", __func__);
		jnl_free(&j);
		return -1;
	}
	/* An extended record may pass a file-size limit: EFBIG, not death. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGXFSZ, &sa, &osa);
	if (!mb->rdonly)
		jnl_clean_tmp(&j);
	j.jfd = statedir_file(j.dfd, mb->key, JNL_SUFFIX, O_RDWR);
	if (j.jfd == -1 && errno == ENOENT)
		r = 0;
	else if (j.jfd == -1)
		log_warn("%s: recovery record %s", mb->path, j.name);
	else if (jnl_load(&j) == -1)
		;
	else if (mb->rdonly)
		log_warnx("%s: an interrupted commit needs write access to "
		    "be completed", mb->path);
	else if (jnl_apply(&j) == -1)
		log_warn("%s: completing an interrupted commit", mb->path);
	else {
		log_info("%s: completed an interrupted commit", mb->path);
		r = 1;
	}
	jnl_free(&j);
	(void)sigaction(SIGXFSZ, &osa, NULL);
	return r;
}

int
mbox_journal_path(int statefd, const char *name, char *path, size_t len)
{
	struct jnl_hdr	 h;
	int		 fd;

	fd = statedir_file(statefd, name, "", O_RDONLY);
	if (fd == -1 || jnl_read_hdr(fd, &h) == -1 ||
	    strlcpy(path, h.path, len) >= len) {
		log_warnx("recovery record %s: unreadable or damaged", name);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	(void)close(fd);
	return 0;
}

static int
jnl_commit(struct jnl *j, const struct mbox_plan *p)
{
	struct mbox	*mb = j->mb;
	struct rlimit	 rl;
	struct mbox_hash hash;
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
	if ((tfd = jnl_create_tmp(j)) == -1) {
		log_warn("%s: creating the recovery record %s", mb->path,
		    j->tmpname);
		return -1;
	}
	memcpy(j->h.magic, JNL_MAGIC, sizeof(j->h.magic));
	j->h.dev = (uint64_t)mb->dev;
	j->h.ino = mb->ino;
	jnl_birth(mb->fd, &j->h);
	(void)strlcpy(j->h.path, mb->path, sizeof(j->h.path));
	j->h.off0 = p->off0;
	j->h.ndata = p->ndata;
	j->h.lorig = p->size;
	mbox_hash_init(&hash);
	for (i = 0; i < p->nsegs && r == 0; i++)
		r = jnl_part(j, tfd, &out, mb->fd, p->segs[i].off,
		    p->segs[i].len, &hash);
	if (r == -1 || jnl_prefix_md5(j, p->off0, j->h.prefix_md5) == -1 ||
	    jnl_seal(j, tfd, &hash) == -1) {
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
	log_warn("%s: commit interrupted; it is completed when this session "
	    "ends, or at the next login", mb->path);
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
