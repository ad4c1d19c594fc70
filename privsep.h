#ifndef POP3D_PRIVSEP_H
#define POP3D_PRIVSEP_H

#include <pwd.h>

#include "auth.h"
#include "config.h"
#include "session.h"

/*
 * Runs the AUTHORIZATION state in an unprivileged, chrooted child and
 * decides its credentials here.  Returns 0 with *user and *method filled
 * and the client's pipelined bytes preloaded into s->io; on any other end
 * of the dialogue the process exits.
 */
int	privsep_login(const struct config *, struct session *,
	    struct auth_user *user, enum auth_method *method);

const char *auth_method_name(enum auth_method);
/* Problems with privsep-user and privsep-dir, for pop3d -t. */
int	privsep_check(const struct config *);
/* The pre-auth account (privsep-user, else nobody), NULL if unusable. */
struct passwd *privsep_account(const struct config *, int quiet);

#endif
