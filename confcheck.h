/*
 * The configuration's checks across modules (confcheck.c), run by pop3d
 * beside privsep_check() before it serves, and by `pop3d -t`.
 */
#ifndef POP3D_CONFCHECK_H
#define POP3D_CONFCHECK_H

struct config;

/*
 * Every check of a loaded configuration, returning the number of
 * problems (each logged): config.c's own, then those that ask the
 * modules (backends built in, onlogin, secrets for APOP and CRAM-MD5).
 * `full` (pop3d -t) adds each backend's own checks, such as every line
 * of the users file: at login a bad line only fails its own user, it
 * does not take the service down.
 */
int	confcheck_run(const struct config *, int full);

/*
 * The maildrop template check for config_set_maildrop_check(): expands
 * a sample name, so that the format and every escape are checked.
 */
const char *confcheck_maildrop(const char *);

#endif
