/*
 * mbox locking, in two layers (docs/mbox.md "Locking").
 *
 * The session lock keeps a second POP3 session of the same maildrop out
 * ([IN-USE], RFC 2449 §8.1.1) for as long as the process lives.  It is
 * an abstract AF_UNIX socket named after the file's device and inode:
 * it needs no file, cannot go stale (the kernel drops it with the
 * process), and no MDA ever looks at it.  A flock(2) on the mbox
 * would do the same but could block an MDA that locks with flock.
 *
 * The MDA-visible locks follow Debian Policy §11.6 (mail spool): a
 * USER.lock dotlock made by liblockfile (NFS-safe hard-link method,
 * stale locks of dead processes removed, and through its setgid helper
 * /usr/bin/dotlockfile usable in a spool the user cannot write), then a
 * fcntl(2) lock of the whole file.  That is the order of Debian's MDAs;
 * taking them in another order deadlocks with them (PEERS.md).  They are
 * held only while the file is scanned at login and while the commit runs
 * at QUIT, never while the client talks.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <lockfile.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"

/*
 * Both locks are polled for up to 15 s: an MDA that holds one longer
 * makes the login or QUIT fail with [SYS/TEMP] rather than hang; a
 * delivery takes milliseconds.  liblockfile's own retries sleep 5 s,
 * then 10 s, which under a stream of deliveries would make every login
 * wait seconds; so it is asked for one try at a time.  Polling also
 * lets a waiting MDA (F_SETLKW) go first.
 */
#define MBOX_LOCK_WAIT_MS	15000
#define MBOX_DOTLOCK_STEP_MS	50
#define MBOX_FCNTL_STEP_MS	20

static void
lock_nap(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/*
 * Who holds the name: 1 a process of our uid (a session), 0 someone
 * else, -1 cannot tell.  The holder listens and never accepts; a connect
 * still succeeds (it is queued) and SO_PEERCRED then gives the
 * credentials the holder had at listen(2).
 */
static int
lock_session_holder(const struct sockaddr_un *sun, socklen_t len)
{
	struct ucred	 cr;
	socklen_t	 crlen = sizeof(cr);
	int		 c, r = -1;

	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c == -1)
		return -1;
	if (connect(c, (const struct sockaddr *)sun, len) == 0 &&
	    getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0)
		r = cr.uid == geteuid();
	(void)close(c);
	return r;
}

enum md_status
mbox_lock_session(struct mbox *mb)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 s, n, tries, holder = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* sun_path[0] == '\0': the abstract namespace (unix(7)). */
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
	    "pop3d-mbox-%llx-%llx", (unsigned long long)mb->dev,
	    (unsigned long long)mb->ino);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	for (tries = 0; tries < 3; tries++) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s == -1) {
			log_warn("%s: socket", __func__);
			return MD_TEMP;
		}
		if (bind(s, (struct sockaddr *)&sun, len) == 0) {
			if (listen(s, SOMAXCONN) == -1) {
				log_warn("%s: listen", __func__);
				(void)close(s);
				return MD_TEMP;
			}
			mb->sessfd = s;
			return MD_OK;
		}
		n = errno;
		(void)close(s);
		if (n != EADDRINUSE) {
			errno = n;
			log_warn("%s: bind", __func__);
			return MD_TEMP;
		}
		if ((holder = lock_session_holder(&sun, len)) == 1)
			return MD_IN_USE;
		if (holder == 0)
			break;
		/* Between bind and listen of another session: look again. */
		lock_nap(20);
	}
	/*
	 * The name is held by another user (who can compute it from
	 * stat(2) of the mbox) or by something that does not answer.  The
	 * commit checks the file under the MDA locks anyway, so two
	 * sessions cannot lose mail; only the courtesy of [IN-USE] is lost.
	 */
	log_warnx("%s: session lock held by %s: going on without it",
	    mb->path, holder == 0 ? "another user" : "an unknown process");
	return MD_OK;
}

void
mbox_unlock_session(struct mbox *mb)
{
	if (mb->sessfd != -1) {
		(void)close(mb->sessfd);
		mb->sessfd = -1;
	}
}

static enum md_status
lock_dot(struct mbox *mb)
{
	int	 r, waited;

	for (waited = 0;; waited += MBOX_DOTLOCK_STEP_MS) {
		/* One try; a stale lock of a dead process is broken. */
		r = lockfile_create(mb->lockpath, 0, L_PID);
		if (r != L_MAXTRYS || waited >= MBOX_LOCK_WAIT_MS)
			break;
		lock_nap(MBOX_DOTLOCK_STEP_MS);
	}
	if (r == L_SUCCESS) {
		mb->dotlocked = 1;
		return MD_OK;
	}
	if (r == L_MAXTRYS) {
		log_warnx("%s: locked by another program", mb->lockpath);
		return MD_TEMP;
	}
	/*
	 * No lock file can be made: the spool is not writable for us and
	 * the setgid helper refused (the spool is not writable for group
	 * mail either, or the mailbox is not ours).  The fcntl lock still
	 * excludes every Debian MDA, which all take both.
	 */
	log_warn("%s: cannot create dotlock (liblockfile error %d), using "
	    "the fcntl lock alone", mb->lockpath, r);
	return MD_OK;
}

static enum md_status
lock_fcntl(struct mbox *mb, short type)
{
	struct flock	 fl;
	int		 waited;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	for (waited = 0;; waited += MBOX_FCNTL_STEP_MS) {
		/*
		 * An open-file-description lock: it conflicts with the
		 * POSIX locks of MDAs, and is not dropped when some other
		 * descriptor of this file is closed in this process.
		 */
		if (fcntl(mb->fd, F_OFD_SETLK, &fl) == 0) {
			mb->fcntl_locked = 1;
			return MD_OK;
		}
		if (errno == ENOLCK || errno == EINVAL || errno == EOPNOTSUPP) {
			if (!mb->dotlocked) {
				log_warn("%s: fcntl lock", mb->path);
				return MD_TEMP;
			}
			log_warn("%s: fcntl lock, using the dotlock alone",
			    mb->path);
			return MD_OK;
		}
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			log_warn("%s: fcntl lock", mb->path);
			return MD_TEMP;
		}
		if (waited >= MBOX_LOCK_WAIT_MS) {
			log_warnx("%s: fcntl lock held by another program",
			    mb->path);
			return MD_TEMP;
		}
		lock_nap(MBOX_FCNTL_STEP_MS);
	}
}

enum md_status
mbox_lock(struct mbox *mb, short type)
{
	enum md_status	 st;

	if ((st = lock_dot(mb)) != MD_OK)
		return st;
	if ((st = lock_fcntl(mb, type)) != MD_OK)
		mbox_unlock(mb);
	return st;
}

void
mbox_unlock(struct mbox *mb)
{
	struct flock	 fl;

	if (mb->fcntl_locked) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_UNLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(mb->fd, F_OFD_SETLK, &fl) == -1)
			log_warn("%s: fcntl unlock", mb->path);
		mb->fcntl_locked = 0;
	}
	if (mb->dotlocked) {
		if (lockfile_remove(mb->lockpath) != 0)
			log_warn("%s: cannot remove dotlock", mb->lockpath);
		mb->dotlocked = 0;
	}
}
