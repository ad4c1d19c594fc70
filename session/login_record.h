/*
 * LOGIN-DELAY (RFC 2449 §6.5, §8.1.2): the time of a user's last login is
 * the mtime of a small file next to the maildrop, so that several hosts
 * sharing the storage agree.  Runs as the mail user.
 */
#ifndef POP3D_LOGIN_RECORD_H
#define POP3D_LOGIN_RECORD_H

#include "config.h"
#include "maildrop.h"

/*
 * Returns 0 when the login may go on (and records it), 1 when the last
 * login was less than login-delay seconds ago, -1 when no record can be
 * kept (logged; the login goes on rather than locking the user out).
 */
int	login_record_check(const struct config *, const struct maildrop_ops *,
	    const char *path, const char *home);

#endif
