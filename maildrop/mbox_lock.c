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
 * The MDA-visible locks, a liblockfile dotlock then a fcntl(2) lock,
 * are mda_lock.c's, shared with bulletin(8).  They are held only while
 * the file is scanned at login and while the commit runs at QUIT, never
 * while the client talks.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"

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

/* The MDA locks are mda_lock.c's; these keep struct mbox's callers. */
enum md_status
mbox_lock(struct mbox *mb, short type)
{
	mb->mda.fd = mb->fd;
	return mda_lock(&mb->mda, type) == 0 ? MD_OK : MD_TEMP;
}

void
mbox_lock_touch(struct mbox *mb)
{
	mda_lock_touch(&mb->mda);
}

void
mbox_unlock(struct mbox *mb)
{
	mda_unlock(&mb->mda);
}
