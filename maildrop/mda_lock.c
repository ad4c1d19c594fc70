/*
 * The MDA-visible locks of an mbox (mda_lock.h).  They follow Debian
 * Policy §11.6 (mail spool): a USER.lock dotlock made by liblockfile
 * (NFS-safe hard-link method, stale locks of dead processes removed,
 * and through its setgid helper /usr/bin/dotlockfile usable in a spool
 * the user cannot write), then a fcntl(2) lock of the whole file.  That
 * is the order of Debian's MDAs; taking them in another order deadlocks
 * with them (docs/mbox.md "Locking").  The file is open before either is
 * taken: the fcntl lock needs the descriptor, and holding the dotlock
 * around an open that may block or fail gains nothing.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <lockfile.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mda_lock.h"

/*
 * Both locks are polled for up to 15 s: an MDA that holds one longer
 * makes the login or QUIT fail with [SYS/TEMP] rather than hang; a
 * delivery takes milliseconds.  liblockfile's own retries sleep 5 s,
 * then 10 s, which under a stream of deliveries would make every login
 * wait seconds; so it is asked for one try at a time.  Polling also
 * lets a waiting MDA (F_SETLKW) go first.
 */
#define MDA_LOCK_WAIT_MS	15000
#define MDA_DOTLOCK_STEP_MS	50
#define MDA_FCNTL_STEP_MS	20
/* liblockfile breaks a dotlock after 5 min, Postfix after 500 s. */
#define MDA_TOUCH_EVERY		60

static void
lock_nap(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

static time_t
lock_now(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return time(NULL);
	return ts.tv_sec;
}

/* The mbox's own name, for the messages: lockpath without ".lock". */
static int
lock_namelen(const struct mda_lock *l)
{
	return (int)(strlen(l->lockpath) - 5);
}

int
mda_lock_init(struct mda_lock *l, int fd, const char *mbox_path)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	if (snprintf(l->lockpath, sizeof(l->lockpath), "%s.lock",
	    mbox_path) >= (int)sizeof(l->lockpath)) {
		l->lockpath[0] = '\0';
		log_warnx("%s: mbox path too long", __func__);
		return -1;
	}
	return 0;
}

static int
lock_dot(struct mda_lock *l)
{
	int	 r, waited;

	for (waited = 0;; waited += MDA_DOTLOCK_STEP_MS) {
		/* One try; a stale lock of a dead process is broken. */
		r = lockfile_create(l->lockpath, 0, L_PID);
		if (r != L_MAXTRYS || waited >= MDA_LOCK_WAIT_MS)
			break;
		lock_nap(MDA_DOTLOCK_STEP_MS);
	}
	if (r == L_SUCCESS) {
		l->dotlocked = 1;
		l->touched = lock_now();
		return 0;
	}
	if (r == L_MAXTRYS) {
		log_warnx("%s: locked by another program", l->lockpath);
		return -1;
	}
	/*
	 * No lock file can be made: the spool is not writable for us and
	 * the setgid helper refused (the spool is not writable for group
	 * mail either, or the mailbox is not ours).  The fcntl lock still
	 * excludes every Debian MDA, which all take both.
	 */
	log_warn("%s: cannot create dotlock (liblockfile error %d), using "
	    "the fcntl lock alone", l->lockpath, r);
	return 0;
}

static int
lock_fcntl(struct mda_lock *l, short type)
{
	struct flock	 fl;
	int		 waited;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	for (waited = 0;; waited += MDA_FCNTL_STEP_MS) {
		/*
		 * An open-file-description lock: it conflicts with the
		 * POSIX locks of MDAs, and is not dropped when some other
		 * descriptor of this file is closed in this process.
		 */
		if (fcntl(l->fd, F_OFD_SETLK, &fl) == 0) {
			l->fcntl_locked = 1;
			return 0;
		}
		if (errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP) {
			if (!l->dotlocked) {
				log_warn("%.*s: fcntl lock", lock_namelen(l),
				    l->lockpath);
				return -1;
			}
			log_warn("%.*s: fcntl lock, using the dotlock alone",
			    lock_namelen(l), l->lockpath);
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			log_warn("%.*s: fcntl lock", lock_namelen(l),
			    l->lockpath);
			return -1;
		}
		if (waited >= MDA_LOCK_WAIT_MS) {
			log_warnx("%.*s: fcntl lock held by another program",
			    lock_namelen(l), l->lockpath);
			return -1;
		}
		lock_nap(MDA_FCNTL_STEP_MS);
	}
}

/*
 * The signals that end a process by default and that an administrator
 * or a terminal sends.  They are blocked before the dotlock is taken,
 * not after, so that none can land between its creation and the mask;
 * a signal sent while a lock is awaited waits with it (15 s at most).
 */
static void
lock_mask(struct mda_lock *l)
{
	sigset_t	 set;

	if (l->masked)
		return;
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGHUP);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, &l->saved) == 0)
		l->masked = 1;
	else
		log_warn("%s: sigprocmask", __func__);
}

int
mda_lock(struct mda_lock *l, short type)
{
	lock_mask(l);
	if (lock_dot(l) == -1 || lock_fcntl(l, type) == -1) {
		mda_unlock(l);
		return -1;
	}
	return 0;
}

void
mda_lock_touch(struct mda_lock *l)
{
	time_t	 now;

	if (!l->dotlocked)
		return;
	now = lock_now();
	if (now - l->touched < MDA_TOUCH_EVERY)
		return;
	if (lockfile_touch(l->lockpath) != 0)
		log_warn("%s: cannot touch dotlock", l->lockpath);
	l->touched = now;
}

void
mda_unlock(struct mda_lock *l)
{
	struct flock	 fl;

	if (l->fcntl_locked) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(l->fd, F_OFD_SETLK, &fl) == -1)
			log_warn("%.*s: fcntl unlock", lock_namelen(l),
			    l->lockpath);
		l->fcntl_locked = 0;
	}
	if (l->dotlocked) {
		if (lockfile_remove(l->lockpath) != 0)
			log_warn("%s: cannot remove dotlock", l->lockpath);
		l->dotlocked = 0;
	}
	/* Last: a pending SIGTERM is delivered here, with nothing held. */
	if (l->masked) {
		l->masked = 0;
		if (sigprocmask(SIG_SETMASK, &l->saved, NULL) == -1)
			log_warn("%s: sigprocmask", __func__);
	}
}
