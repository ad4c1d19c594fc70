/*
 * The locks a mail delivery agent honours on an mbox (docs/mbox.md
 * "Locking"): a liblockfile dotlock PATH.lock, then an fcntl(2) lock of
 * the whole file, each polled for a bounded time.  Shared by pop3d's
 * mbox maildrop (mbox_lock.c) and bulletin(8), so that both take them
 * the same way and in the same order as Debian's MDAs.
 *
 * While the locks are held, SIGTERM, SIGHUP, SIGINT and SIGQUIT are
 * blocked: a scan or a commit that such a signal interrupts finishes,
 * releases both locks, and only then does the signal take effect, so
 * that no dotlock is left behind for an MDA to wait out.
 */
#ifndef POP3D_MDA_LOCK_H
#define POP3D_MDA_LOCK_H

#include <limits.h>
#include <signal.h>
#include <time.h>

struct mda_lock {
	int		 fd;		/* the open mbox */
	char		 lockpath[PATH_MAX + 8];	/* PATH.lock */
	int		 dotlocked;
	int		 fcntl_locked;
	sigset_t	 saved;		/* the mask before mda_lock */
	int		 masked;	/* saved is to be restored */
	time_t		 touched;	/* monotonic s of the last touch */
};

/* 0, or -1 when the path is too long for a lock file name (logged). */
int	mda_lock_init(struct mda_lock *, int fd, const char *mbox_path);
/*
 * Dotlock, then an fcntl lock of `type` (F_RDLCK, F_WRLCK); 0, or -1
 * (logged; nothing is held then, try later).  A dotlock that cannot be
 * made at all leaves the fcntl lock alone, and an fcntl lock that the
 * file system does not support leaves the dotlock alone.
 */
int	mda_lock(struct mda_lock *, short type);
/*
 * Keeps a held dotlock fresh: liblockfile and Postfix take a dotlock
 * older than 5 min (500 s for Postfix) for a stale one and break it, so
 * a long commit calls this as it goes; it touches the file at most once
 * a minute.
 */
void	mda_lock_touch(struct mda_lock *);
/* Releases what is held, then restores the signal mask. */
void	mda_unlock(struct mda_lock *);

#endif
