/*
 * mbox locking (docs/mbox.md "Locking").  The session lock, which keeps a
 * second POP3 session out, is the state directory's, the same for both
 * formats (maildrop_session.c); this file has the MDA-visible locks.
 *
 * They follow Debian Policy §11.6 (mail spool): a
 * USER.lock dotlock made by liblockfile (NFS-safe hard-link method,
 * stale locks of dead processes removed, and through its setgid helper
 * /usr/bin/dotlockfile usable in a spool the user cannot write), then a
 * fcntl(2) lock of the whole file.  That is the order of Debian's MDAs;
 * taking them in another order deadlocks with them (PEERS.md).  They are
 * held only while the file is scanned at login and while the commit runs
 * at QUIT, never while the client talks.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <lockfile.h>
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
		mb->touched = time(NULL);
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

/*
 * A dotlock is judged stale by its age (liblockfile: 5 minutes; Postfix
 * waits 500 s): a commit that runs long refreshes it once a minute.
 */
void
mbox_lock_touch(struct mbox *mb)
{
	time_t	 now;

	if (!mb->dotlocked)
		return;
	now = time(NULL);
	if (now - mb->touched < 60)
		return;
	mb->touched = now;
	(void)lockfile_touch(mb->lockpath);
}
