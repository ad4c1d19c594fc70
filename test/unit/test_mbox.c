/*
 * The mbox maildrop through maildrop_ops, on real files: edge cases of
 * docs/mbox.md (missing, empty, symlink, FIFO, wrong owner, hard link,
 * not an mbox), byte-exact serving of odd storage, the locks (session
 * lock, MDA locks released after the scan, stale dotlock, a held fcntl
 * lock), a message of hundreds of MiB served in constant memory, and the
 * Debian spool permissions (2775 root:mail, mbox 0660 user:mail) with a
 * session that is neither root nor group mail.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <grp.h>
#include <lockfile.h>
#include <signal.h>

#include "log.h"
#include "test/unit/mbox_test.h"

static char	 dir[256];
static char	 path[512];

static void
test_missing_and_empty(void)
{
	struct maildrop		 md;
	struct stat		 sb;
	static const unsigned char no[1];

	CHECK(t_open(&md, path) == MD_OK && md.count == 0);
	CHECK(md.ops->commit(&md, no) == MD_OK);
	t_close(&md);
	CHECK(stat(path, &sb) == -1 && errno == ENOENT);
	CHECK(t_count_names(dir, ".lock") == 0);

	t_write(path, "", 0, 0);
	CHECK(t_open(&md, path) == MD_OK && md.count == 0);
	t_close(&md);
	CHECK(stat(path, &sb) == 0 && sb.st_size == 0);
	unlink(path);
}

static void
test_refused(void)
{
	struct maildrop	 md;
	char		 other[600];

	/* Symlink to a good mbox: not followed (docs/mbox.md "Opening"). */
	snprintf(other, sizeof(other), "%s/real", dir);
	t_append_msg(other, "a", "X: 1\n\nA\n");
	CHECK(symlink(other, path) == 0);
	CHECK(t_open(&md, path) == MD_PERM);
	t_close(&md);
	unlink(path);

	/* Hard link: refused (docs/mbox.md "Opening"). */
	CHECK(link(other, path) == 0);
	CHECK(t_open(&md, path) == MD_PERM);
	t_close(&md);
	unlink(path);
	unlink(other);

	/* FIFO: neither hangs nor is served. */
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(t_open(&md, path) == MD_PERM);
	t_close(&md);
	unlink(path);

	/* Directory. */
	CHECK(mkdir(path, 0700) == 0);
	CHECK(t_open(&md, path) != MD_OK);
	t_close(&md);
	rmdir(path);

	/* Another owner. */
	t_append_msg(path, "a", "X: 1\n\nA\n");
	CHECK(chown(path, 12345, 12345) == 0);
	CHECK(t_open(&md, path) == MD_PERM);
	t_close(&md);
	unlink(path);

	/* Not an mbox (MMDF, a stray header): refused, never rewritten. */
	t_write(path, "\1\1\1\1\nX: 1\n\nA\n\1\1\1\1\n", 19, 0);
	CHECK(t_open(&md, path) == MD_PERM);
	t_close(&md);
	t_write(path, "Subject: x\n\nFrom a\n", 19, 0);
	CHECK(t_open(&md, path) == MD_PERM);
	t_close(&md);
	unlink(path);

	/* A relative path. */
	CHECK(t_open(&md, "var/mail/x") == MD_PERM);
	t_close(&md);
}

static void
test_content(void)
{
	static const char mbox[] =
	    "From a Sat Nov 21 08:40:00 2025\r\nX: crlf\r\n\r\nline\r\n.dot\r\n"
	    "\r\n"
	    "From b Sat Nov 21 08:40:00 2025\nX: bin\n\n\0\xff\xfe\rbare cr\n"
	    ">From quoted\n..two\n\n"
	    "From c Sat Nov 21 08:40:00 2025\nX: 3\n\nno final newline";
	static const char *const want[] = {
		"X: crlf\r\n\r\nline\r\n.dot\r\n",
		"X: bin\n\n\0\xff\xfe\rbare cr\n>From quoted\n..two\n",
		"X: 3\n\nno final newline",
	};
	struct maildrop	 md;
	uint64_t	 size;
	char		*m, uid[3][UID_MAX_LEN + 1];
	size_t		 len, i;

	t_write(path, mbox, sizeof(mbox) - 1, 0);
	CHECK(t_open(&md, path) == MD_OK && md.count == 3);
	m = t_get(&md, 0, &len);
	CHECK(m && len == strlen(want[0]) && memcmp(m, want[0], len) == 0);
	free(m);
	m = t_get(&md, 1, &len);
	CHECK(m && len == 39 && memcmp(m, want[1], len) == 0);
	free(m);
	m = t_get(&md, 2, &len);
	CHECK(m && len == strlen(want[2]) && memcmp(m, want[2], len) == 0);
	free(m);
	/*
	 * CRLF kept (never CR CR LF), CRLF added at the end; the stuffing of
	 * ".dot" and "..two" is not counted (RFC 1939 §11).
	 */
	CHECK(md.ops->size(&md, 0, &size) == MD_OK && size == 23);
	CHECK(md.ops->size(&md, 1, &size) == MD_OK && size == 39 + 5);
	CHECK(md.ops->size(&md, 2, &size) == MD_OK && size == 22 + 2 + 2);
	CHECK(md.ops->size(&md, 3, &size) == MD_GONE);
	for (i = 0; i < 3; i++)
		CHECK(md.ops->uid(&md, i, uid[i]) == MD_OK);
	CHECK(strcmp(uid[0], uid[1]) != 0 && strcmp(uid[1], uid[2]) != 0);
	t_close(&md);

	/* Stable across sessions. */
	CHECK(t_open(&md, path) == MD_OK);
	for (i = 0; i < 3; i++) {
		char	 u[UID_MAX_LEN + 1];

		CHECK(md.ops->uid(&md, i, u) == MD_OK && strcmp(u, uid[i]) == 0);
	}
	t_close(&md);
	unlink(path);
}

static int
lock_state(int fd)
{
	struct flock	 fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_OFD_GETLK, &fl) == -1)
		return -1;
	return fl.l_type;
}

static int
child_fcntl_lock(void *arg)
{
	struct flock	 fl;
	int		 fd = open(path, O_RDWR);
	int		*secs = arg;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fd == -1 || fcntl(fd, F_SETLK, &fl) == -1)
		return 1;
	sleep((unsigned)*secs);
	return 0;
}

static void
test_locks(void)
{
	struct maildrop	 md, md2;
	char		 lock[600];
	pid_t		 pid;
	int		 fd, secs = 2, st;

	t_append_msg(path, "a", "X: 1\n\nA\n");
	snprintf(lock, sizeof(lock), "%s.lock", path);

	/* A second session is refused while the first lives. */
	CHECK(t_open(&md, path) == MD_OK);
	CHECK(t_open(&md2, path) == MD_IN_USE);
	t_close(&md2);
	/* No MDA-visible lock is held while the client talks. */
	CHECK(access(lock, F_OK) == -1);
	fd = open(path, O_RDWR);
	CHECK(lock_state(fd) == F_UNLCK);
	close(fd);
	t_close(&md);
	CHECK(t_open(&md, path) == MD_OK);
	t_close(&md);

	/* A stale dotlock (its process is gone) is broken. */
	if ((pid = fork()) == 0)
		_exit(0);
	waitpid(pid, &st, 0);
	{
		char	 pidline[32];
		int	 n = snprintf(pidline, sizeof(pidline), "%d\n", (int)pid);

		snprintf(lock, sizeof(lock), "%s.lock", path);
		t_write(lock, pidline, (size_t)n, 0);
	}
	CHECK(t_open(&md, path) == MD_OK && md.count == 1);
	t_close(&md);
	CHECK(access(lock, F_OK) == -1);

	/* A delivery holding the fcntl lock is waited for. */
	if ((pid = fork()) == 0)
		_exit(child_fcntl_lock(&secs));
	usleep(300000);
	CHECK(t_open(&md, path) == MD_OK && md.count == 1);
	t_close(&md);
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	unlink(path);
}

static long
rss_kib(void)
{
	char	 buf[4096], *p;
	size_t	 n = t_read("/proc/self/status", buf, sizeof(buf) - 1);

	if (n == (size_t)-1)
		return -1;
	buf[n] = '\0';
	if ((p = strstr(buf, "VmRSS:")) == NULL)
		return -1;
	return strtol(p + 6, NULL, 10);
}

/* A 300 MiB message: streamed, counted, memory flat (docs/mbox.md). */
static void
test_huge(void)
{
	struct maildrop		 md;
	struct md_source	 src;
	struct crlf_state	 st;
	MD5_CTX			 a, b;
	unsigned char		 da[16], db[16];
	char			*chunk, *out, fin[2];
	uint64_t		 size, sent = 0, off, dots;
	size_t			 i, n;
	long			 before, after;
	int			 fd;

	chunk = malloc(1 << 20);
	out = malloc(2 << 20);
	for (i = 0; i < (1 << 20); i++)
		chunk[i] = i % 61 == 60 ? '\n' : i % 61 == 0 ? '.' :
		    (char)(i * 7);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(write_all(fd, "From big\nX: 1\n\n", 15) == 15);
	MD5Init(&a);
	MD5Update(&a, (const unsigned char *)"X: 1\n\n", 6);
	for (i = 0; i < 300; i++) {
		CHECK(write_all(fd, chunk, 1 << 20) == 1 << 20);
		MD5Update(&a, (unsigned char *)chunk, 1 << 20);
	}
	CHECK(write_all(fd, "\n\nFrom small\n\nx\n", 16) == 16);
	close(fd);
	MD5Update(&a, (const unsigned char *)"\n", 1);
	MD5Final(da, &a);

	before = rss_kib();
	CHECK(t_open(&md, path) == MD_OK && md.count == 2);
	after = rss_kib();
	CHECK(after - before < 4096);
	CHECK(md.ops->source(&md, 0, &src) == MD_OK &&
	    src.length == 6 + (300ULL << 20) + 1);
	MD5Init(&b);
	crlf_init(&st, -1);
	for (off = 0; off < src.length; off += n) {
		n = src.length - off < (1 << 20) ? src.length - off : 1 << 20;
		CHECK(pread_full(src.fd, chunk, n, (off_t)(src.offset + off)) ==
		    (ssize_t)n);
		MD5Update(&b, (unsigned char *)chunk, n);
		sent += crlf_convert(&st, chunk, n, out);
	}
	sent += crlf_finish(&st, fin);
	MD5Final(db, &b);
	CHECK(memcmp(da, db, 16) == 0);
	/*
	 * RFC 1939 §11: the size leaves out the stuffing of the dot lines:
	 * one after each LF inside a chunk, and the body's first line (a
	 * chunk does not end in an LF, so later chunks start mid-line).
	 */
	dots = 300 * (((1 << 20) - 1) / 61) + 1;
	CHECK(md.ops->size(&md, 0, &size) == MD_OK && size == sent - dots);
	t_close(&md);
	free(chunk);
	free(out);
	unlink(path);
}

/*
 * Debian's spool: /var/mail 2775 root:mail, the mbox 0660 user:mail,
 * the session as the user (uid, own gid, no supplementary mail group).
 * The dotlock goes through liblockfile's setgid helper, the rewrite
 * through the recovery record in the state directory, and the mbox keeps
 * its inode, owner, group and mode.  Uses the account "nobody" because
 * the helper locks only a mailbox named after the caller's login name.
 */
struct deb {
	char	 spool[512];
	char	 mbox[600];
	char	 home[512];		/* the state directory, 0700 nobody */
	char	 log[600];
};

static int
deb_session(void *arg)
{
	struct deb	*d = arg;
	struct maildrop	 md;
	unsigned char	 del[3] = { 0, 1, 0 };
	int		 fd;

	if ((fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0666)) == -1 ||
	    dup2(fd, 2) == -1)
		return 10;
	if (setgroups(0, NULL) == -1 || setresgid(65534, 65534, 65534) == -1 ||
	    setresuid(65534, 65534, 65534) == -1)
		return 11;
	log_init(1);
	if (t_open_state(&md, d->mbox, d->home) != MD_OK || md.count != 3)
		return 12;
	if (md.ops->commit(&md, del) != MD_OK)
		return 13;
	t_close(&md);
	/* The first of two: a rewrite again, not a truncation. */
	if (t_open_state(&md, d->mbox, d->home) != MD_OK || md.count != 2)
		return 14;
	del[0] = 1;
	del[1] = 0;
	if (md.ops->commit(&md, del) != MD_OK)
		return 15;
	t_close(&md);
	return 0;
}

static void
test_debian_spool(void)
{
	struct deb	 d;
	struct stat	 a, b;
	struct group	*gr = getgrnam("mail");
	char		 logbuf[8192];
	size_t		 n;
	int		 r;
	static const char *const after2[] = { "X: 3\n\nC\n" };

	if (gr == NULL || access("/usr/bin/dotlockfile", X_OK) == -1) {
		printf("skipped: no group mail or no dotlockfile\n");
		return;
	}
	t_mkdir(d.spool, sizeof(d.spool), "spool");
	t_mkdir(d.home, sizeof(d.home), "home");
	snprintf(d.mbox, sizeof(d.mbox), "%s/nobody", d.spool);
	snprintf(d.log, sizeof(d.log), "%s/log", d.home);
	CHECK(chown(d.spool, 0, gr->gr_gid) == 0 && chmod(d.spool, 02775) == 0);
	CHECK(chown(d.home, 65534, 65534) == 0 && chmod(d.home, 0700) == 0);
	t_append_msg(d.mbox, "a", "X: 1\n\nA\n");
	t_append_msg(d.mbox, "b", "X: 2\n\nB\n");
	t_append_msg(d.mbox, "c", "X: 3\n\nC\n");
	CHECK(chown(d.mbox, 65534, gr->gr_gid) == 0 && chmod(d.mbox, 0660) == 0);
	CHECK(stat(d.mbox, &a) == 0);

	r = t_child(deb_session, &d);
	n = t_read(d.log, logbuf, sizeof(logbuf) - 1);
	logbuf[n == (size_t)-1 ? 0 : n] = '\0';
	if (r != 0)
		fprintf(stderr, "debian spool session: %d\n%s", r, logbuf);
	CHECK(r == 0);
	/* The setgid helper made the dotlock: no fallback was logged. */
	CHECK(strstr(logbuf, "cannot create dotlock") == NULL);
	CHECK(strstr(logbuf, "not applied") == NULL);
	CHECK(stat(d.mbox, &b) == 0 && a.st_ino == b.st_ino &&
	    b.st_uid == 65534 && b.st_gid == gr->gr_gid &&
	    (b.st_mode & 07777) == 0660);
	n = t_msg(logbuf, sizeof(logbuf), "c", after2[0]);
	CHECK(t_read(d.mbox, logbuf + n, sizeof(logbuf) - n) == n &&
	    memcmp(logbuf, logbuf + n, n) == 0);
	CHECK(t_count_names(d.spool, "pop3d") == 0);
	CHECK(t_count_names(d.spool, ".lock") == 0);
	CHECK(t_count_names(d.home, ".journal") == 0);
	t_rmdir(d.spool);
	t_rmdir(d.home);
}

/*
 * What RETR (lines < 0) or TOP does with message i: source, then every
 * block to verify, then the end.  0 if it would end with ".", -1 if the
 * session would hang up; MD_GONE from source is 1.
 */
static int
t_serve(struct maildrop *md, size_t i, long long lines, size_t block)
{
	struct md_source	 src;
	struct crlf_state	 st;
	char			 buf[64], out[128];
	uint64_t		 done = 0;
	size_t			 n;

	if (md->ops->source(md, i, &src) != MD_OK)
		return 1;
	crlf_init(&st, lines);
	while (done < src.length && !st.done) {
		n = src.length - done < block ? src.length - done : block;
		if (pread_full(src.fd, buf, n, (off_t)(src.offset + done)) !=
		    (ssize_t)n || md->ops->verify(md, i, buf, n) == -1)
			return -1;
		(void)crlf_convert(&st, buf, n, out);
		done += n;
	}
	return md->ops->verify(md, i, NULL, done == src.length);
}

/* Never serve wrong bytes: the message at the offset must be the one. */
static void
test_verify(void)
{
	/* Identical From_ lines and sizes, as a MAILER-DAEMON would give. */
	static const char a[] = "From M Sat Nov 21 08:40:00 2025\n"
	    "Status: O\nSubject: aaa\n\nbody a\n\n";
	static const char b[] = "From M Sat Nov 21 08:40:00 2025\n"
	    "Status: O\nSubject: bbb\n\nbody b\n\n";
	static const char c[] = "From M Sat Nov 21 08:40:00 2025\n"
	    "Status: O\nSubject: ccc\n\nbody c\n\n";
	static const char a_read[] = "From M Sat Nov 21 08:40:00 2025\n"
	    "Status: R\nSubject: aaa\n\nbody a\n\n";
	static const char a_grown[] = "From M Sat Nov 21 08:40:00 2025\n"
	    "Status: RO\nSubject: aaa\n\nbody a\n\n";
	char		 buf[512];
	struct maildrop	 md;
	size_t		 i, blk;

	snprintf(buf, sizeof(buf), "%s%s%s", a, b, c);
	t_write(path, buf, strlen(buf), 0);
	CHECK(t_open(&md, path) == MD_OK && md.count == 3);
	for (blk = 1; blk <= 64; blk *= 4)
		for (i = 0; i < 3; i++) {
			CHECK(t_serve(&md, i, -1, blk) == 0);
			CHECK(t_serve(&md, i, 0, blk) == 0);
		}
	/* An in-place flag rewrite (same length) is the same message. */
	snprintf(buf, sizeof(buf), "%s%s%s", a_read, b, c);
	t_write(path, buf, strlen(buf), 0);
	CHECK(t_serve(&md, 0, -1, 5) == 0 && t_serve(&md, 0, 1, 5) == 0);
	/* A reader expunged message 1 in place: 2 and 3 moved up. */
	snprintf(buf, sizeof(buf), "%s%s", b, c);
	t_write(path, buf, strlen(buf), 0);
	CHECK(t_serve(&md, 0, -1, 7) == -1);	/* b where a was */
	CHECK(t_serve(&md, 1, -1, 7) == -1);	/* c where b was */
	CHECK(t_serve(&md, 1, 0, 7) == -1);	/* TOP checks the header */
	CHECK(t_serve(&md, 2, -1, 7) == 1);	/* gone: -ERR before +OK */
	/*
	 * A message that grew (a longer flag): at the old length there is
	 * no separator any more, which source() already sees.
	 */
	snprintf(buf, sizeof(buf), "%s%s%s", a_grown, b, c);
	t_write(path, buf, strlen(buf), 0);
	CHECK(t_serve(&md, 0, -1, 64) == 1);
	CHECK(t_serve(&md, 0, 0, 64) == 1);
	/* A new message appended: still the same messages. */
	snprintf(buf, sizeof(buf), "%s%s%s%s", a, b, c, a);
	t_write(path, buf, strlen(buf), 0);
	for (i = 0; i < 3; i++)
		CHECK(t_serve(&md, i, -1, 64) == 0);
	/*
	 * A delivery under way after the last message: its From_ line is
	 * still being written (every cut of it), and the last message is
	 * served all the same.
	 */
	for (blk = 0; blk <= 5; blk++) {
		snprintf(buf, sizeof(buf), "%s%s%s%.*s", a, b, c, (int)blk, a);
		t_write(path, buf, strlen(buf), 0);
		CHECK(t_serve(&md, 2, -1, 64) == 0);
	}
	/* Truncated under the session. */
	snprintf(buf, sizeof(buf), "%s%.40s", a, b);
	t_write(path, buf, strlen(buf), 0);
	CHECK(t_serve(&md, 0, -1, 64) == 0);
	CHECK(t_serve(&md, 1, -1, 3) == -1);
	t_close(&md);
	unlink(path);
}

int
main(void)
{
	log_init(getenv("MBOX_TEST_VERBOSE") != NULL);
	t_mkdir(dir, sizeof(dir), "mbox");
	snprintf(path, sizeof(path), "%s/user", dir);
	test_missing_and_empty();
	test_refused();
	test_content();
	test_locks();
	test_huge();
	test_verify();
	test_debian_spool();
	t_rmdir(dir);
	CHECK_DONE();
}
