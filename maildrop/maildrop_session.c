/*
 * The session's way into a maildrop, the same for every format: lock,
 * then open; and the one session lock (DESIGN.md "The session lock").
 */
#include <unistd.h>

#include "log.h"
#include "maildrop.h"
#include "statedir.h"

enum md_status
maildrop_open(struct maildrop *md, const char *path)
{
	enum md_status	 st;

	if ((st = md->ops->lock(md, path)) == MD_OK &&
	    (st = md->ops->open(md)) != MD_OK)
		md->ops->close(md);
	return st;
}

enum md_status
maildrop_lock_session(int statefd, int fd, const char *what, char *key,
    int *lockfd)
{
	int	 l;

	*lockfd = -1;
	if (statefd == -1) {
		log_warnx("%s: no state directory for the session lock", what);
		return MD_TEMP;
	}
	if (statedir_key(fd, key) == -1) {
		log_warn("%s: fstat", what);
		return MD_TEMP;
	}
	if ((l = statedir_lock(statefd, key)) == STATEDIR_BUSY) {
		log_info("%s: in use by another session", what);
		return MD_IN_USE;
	}
	if (l == -1)
		return MD_TEMP;
	*lockfd = l;
	return MD_OK;
}
