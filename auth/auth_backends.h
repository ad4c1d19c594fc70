/*
 * Inside the auth/ directory only: the backend objects that auth.c's
 * table lists (each file defines one), and helpers they share.
 */
#ifndef POP3D_AUTH_BACKENDS_H
#define POP3D_AUTH_BACKENDS_H

#include <pwd.h>
#include <stddef.h>

#include "auth.h"

extern const struct auth_backend auth_file_backend;
extern const struct auth_backend auth_unix_backend;
extern const struct auth_backend auth_pam_backend;

/*
 * One crypt(3) of `password` with the system's default method and cost
 * (crypt_gensalt_rn(NULL, 0, ...): yescrypt on Debian 12), the setting
 * made once per process; the result is thrown away: it only makes an
 * unknown user cost what a known one does.
 */
void	auth_dummy_crypt(const char *password);

/*
 * getpwnam_r: AUTH_OK (found), AUTH_UNKNOWN (no such user) or
 * AUTH_TEMPFAIL (lookup error, logged).
 */
enum auth_result auth_getpw(const char *user, struct passwd *,
	    char *buf, size_t len);

/* Fills name, uid, gid, home of a system user; -1 if they do not fit. */
int	auth_user_from_pw(struct auth_user *, const struct passwd *);

#endif
