/*
 * maildrop/mda_lock.c: the MDA locks of an mbox.  A dotlock and an
 * fcntl lock held by another process are waited for; an ending signal
 * sent while the locks are held takes effect only once both are gone;
 * mda_lock_touch keeps the dotlock's mtime fresh.  The mbox is made in
 * a fresh directory under $TMPDIR, or else the current directory, as the
 * other unit tests do.
 */
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lockfile.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mda_lock.h"

#include "check.h"

static char	 dir[PATH_MAX];
static char	 mbox[PATH_MAX + 8];
static char	 lockpath[PATH_MAX + 16];

static long
now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
nap_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static int
exists(const char *path)
{
	struct stat	 sb;

	return lstat(path, &sb) == 0;
}

static int
open_mbox(void)
{
	return open(mbox, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static int
is_blocked(int sig)
{
	sigset_t	 cur;

	(void)sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, sig) == 1;
}

/*
 * A child that holds a lock for `ms` and then drops it; it says "H" on
 * the pipe once it holds it.  kind 'd': the dotlock, 'f': a POSIX write
 * lock of the whole file, as an MDA takes it.
 */
static pid_t
holder(int kind, long ms)
{
	struct flock	 fl;
	int		 p[2], fd;
	pid_t		 pid;
	char		 c;

	if (pipe(p) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		(void)close(p[0]);
		if (kind == 'd') {
			if (lockfile_create(lockpath, 0, L_PID) != L_SUCCESS)
				_exit(2);
		} else {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if ((fd = open_mbox()) == -1 ||
			    fcntl(fd, F_SETLK, &fl) == -1)
				_exit(2);
		}
		if (write(p[1], "H", 1) != 1)
			_exit(2);
		nap_ms(ms);
		if (kind == 'd')
			(void)lockfile_remove(lockpath);
		_exit(0);
	}
	(void)close(p[1]);
	if (read(p[0], &c, 1) != 1 || c != 'H') {
		(void)close(p[0]);
		return -1;
	}
	(void)close(p[0]);
	return pid;
}

static int
reaped_ok(pid_t pid)
{
	int	 st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0;
}

static void
test_init(void)
{
	struct mda_lock	 l;
	char		 longp[PATH_MAX + 16];

	CHECK(mda_lock_init(&l, 3, mbox) == 0);
	CHECK_STREQ(l.lockpath, lockpath);
	CHECK(l.fd == 3 && !l.dotlocked && !l.fcntl_locked && !l.masked);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK(mda_lock_init(&l, 3, longp) == -1);
}

/* Both taken, the signals blocked; all undone by mda_unlock. */
static void
test_plain(void)
{
	struct mda_lock	 l;
	int		 fd = open_mbox();

	CHECK(fd != -1);
	CHECK(mda_lock_init(&l, fd, mbox) == 0);
	CHECK(!is_blocked(SIGTERM));
	CHECK(mda_lock(&l, F_WRLCK) == 0);
	CHECK(l.dotlocked && l.fcntl_locked);
	CHECK(exists(lockpath));
	CHECK(is_blocked(SIGTERM) && is_blocked(SIGHUP) &&
	    is_blocked(SIGINT) && is_blocked(SIGQUIT));
	CHECK(!is_blocked(SIGALRM));
	mda_unlock(&l);
	CHECK(!l.dotlocked && !l.fcntl_locked);
	CHECK(!exists(lockpath));
	CHECK(!is_blocked(SIGTERM) && !is_blocked(SIGQUIT));
	(void)close(fd);
}

/* Another process's dotlock is waited for until it goes. */
static void
test_held_dotlock(void)
{
	struct mda_lock	 l;
	int		 fd = open_mbox();
	pid_t		 pid;
	long		 t0;

	CHECK(mda_lock_init(&l, fd, mbox) == 0);
	CHECK((pid = holder('d', 400)) > 0);
	t0 = now_ms();
	CHECK(mda_lock(&l, F_RDLCK) == 0);
	CHECK(now_ms() - t0 >= 300);
	CHECK(l.dotlocked && l.fcntl_locked);
	mda_unlock(&l);
	CHECK(!exists(lockpath));
	CHECK(reaped_ok(pid));
	(void)close(fd);
}

/*
 * Another process's fcntl lock is waited for; given up after 15 s,
 * nothing stays held (no dotlock, the mask as it was).
 */
static void
test_held_fcntl(void)
{
	struct mda_lock	 l;
	int		 fd = open_mbox();
	pid_t		 pid;
	long		 t0;

	CHECK(mda_lock_init(&l, fd, mbox) == 0);
	CHECK((pid = holder('f', 400)) > 0);
	t0 = now_ms();
	CHECK(mda_lock(&l, F_RDLCK) == 0);
	CHECK(now_ms() - t0 >= 300);
	mda_unlock(&l);
	CHECK(reaped_ok(pid));

	CHECK((pid = holder('f', 17000)) > 0);
	t0 = now_ms();
	CHECK(mda_lock(&l, F_WRLCK) == -1);
	CHECK(now_ms() - t0 >= 14000);
	CHECK(!l.dotlocked && !l.fcntl_locked && !l.masked);
	CHECK(!exists(lockpath));
	CHECK(!is_blocked(SIGTERM));
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	(void)close(fd);
}

/*
 * SIGTERM sent to a process that holds the locks: it goes on ("S"),
 * unlocks, and dies of the signal then, before its next step ("A"),
 * with the dotlock gone.
 */
static void
test_sigterm(void)
{
	struct mda_lock	 l;
	int		 up[2], down[2], st, fd;
	char		 got[8], c;
	ssize_t		 n, k;
	pid_t		 pid;

	CHECK(pipe(up) == 0 && pipe(down) == 0);
	if ((pid = fork()) == 0) {
		(void)close(up[0]);
		(void)close(down[1]);
		if ((fd = open_mbox()) == -1 ||
		    mda_lock_init(&l, fd, mbox) == -1 ||
		    mda_lock(&l, F_WRLCK) == -1)
			_exit(2);
		if (write(up[1], "L", 1) != 1)
			_exit(2);
		if (read(down[0], &c, 1) != 1)
			_exit(3);
		if (write(up[1], "S", 1) != 1)
			_exit(2);
		mda_unlock(&l);
		if (write(up[1], "A", 1) != 1)
			_exit(2);
		_exit(0);
	}
	CHECK(pid > 0);
	(void)close(up[1]);
	(void)close(down[0]);
	CHECK(read(up[0], &c, 1) == 1 && c == 'L');
	CHECK(exists(lockpath));
	CHECK(kill(pid, SIGTERM) == 0);
	nap_ms(100);
	CHECK(exists(lockpath));
	CHECK(write(down[1], "G", 1) == 1);
	n = 0;
	while (n < (ssize_t)sizeof(got) - 1 &&
	    (k = read(up[0], got + n, sizeof(got) - 1 - (size_t)n)) > 0)
		n += k;
	got[n] = '\0';
	CHECK_STREQ(got, "S");
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	CHECK(!exists(lockpath));
	(void)close(up[0]);
	(void)close(down[1]);
}

/* A touch at most once a minute; then the lock file's mtime is now. */
static void
test_touch(void)
{
	struct mda_lock	 l;
	struct timeval	 tv[2];
	struct stat	 sb;
	int		 fd = open_mbox();
	time_t		 old = time(NULL) - 200;

	CHECK(mda_lock_init(&l, fd, mbox) == 0);
	CHECK(mda_lock(&l, F_WRLCK) == 0);
	tv[0].tv_sec = tv[1].tv_sec = old;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	CHECK(utimes(lockpath, tv) == 0);
	mda_lock_touch(&l);	/* just taken: not yet */
	CHECK(stat(lockpath, &sb) == 0 && sb.st_mtime == old);
	l.touched -= 61;
	mda_lock_touch(&l);
	CHECK(stat(lockpath, &sb) == 0 && sb.st_mtime >= time(NULL) - 5);
	mda_unlock(&l);
	mda_lock_touch(&l);	/* not locked: nothing to touch */
	CHECK(!exists(lockpath));
	(void)close(fd);
}

int
main(void)
{
	const char	*tmp = getenv("TMPDIR");

	log_init(1);
	if (tmp == NULL || *tmp == '\0')
		tmp = ".";
	(void)snprintf(dir, sizeof(dir), "%s/test_mda_lock.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	(void)snprintf(mbox, sizeof(mbox), "%s/user", dir);
	(void)snprintf(lockpath, sizeof(lockpath), "%s.lock", mbox);
	test_init();
	test_plain();
	test_held_dotlock();
	test_held_fcntl();
	test_sigterm();
	test_touch();
	(void)unlink(lockpath);
	(void)unlink(mbox);
	(void)rmdir(dir);
	CHECK_DONE();
}
