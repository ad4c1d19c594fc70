/*
 * LOGIN-DELAY (RFC 2449 §6.5, §8.1.2): the time of a user's last login is
 * the mtime of NAME.login in the user's state directory (statedir.h), so
 * that several hosts sharing state-dir agree.  Runs as the mail user,
 * after the session lock and before the maildrop is read: a refusal for
 * [IN-USE] or a maildrop that cannot be opened records nothing.
 */
#ifndef POP3D_LOGIN_RECORD_H
#define POP3D_LOGIN_RECORD_H

#include "config.h"

/*
 * 1 when the last login of `user` was less than login-delay seconds ago,
 * 0 when the login may go on, -1 when the record cannot be read (logged;
 * the login goes on rather than locking the user out).
 */
int	login_record_check(const struct config *, int statefd,
	    const char *user);
/* Records this login (logged when it cannot). */
void	login_record_update(const struct config *, int statefd,
	    const char *user);

#endif
