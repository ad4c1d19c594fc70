/*
 * The onlogin program (docs/onlogin.md): run after a successful
 * login, before the maildrop is opened, as `onlogin-user` (by default the
 * authenticated user, never root unless `onlogin-user = root`).
 *
 * pop3d calls onlogin_run() as root (or as the user pop3d runs as), after
 * authentication and maildrop expansion, before its own privilege drop.
 */
#ifndef POP3D_ONLOGIN_H
#define POP3D_ONLOGIN_H

#include <sys/types.h>

struct config;

/* The `onlogin-failure` key: what a failed program does to the login. */
enum onlogin_failure { ONLOGIN_IGNORE, ONLOGIN_DENY };

/* Words of the `onlogin` key, the program's name included. */
#define ONLOGIN_ARGV_MAX	32

/* Exit status by which the program refuses the login (EX_TEMPFAIL). */
#define ONLOGIN_EX_TEMPFAIL	75
/* Octets of the program's first output line that reach the log. */
#define ONLOGIN_LINE_MAX	200

struct onlogin_info {
	const char	*user;		/* as authenticated, name_valid() */
	const char	*home;		/* "" when the backend has none */
	const char	*maildrop;	/* "FORMAT:PATH", expanded */
	const char	*state_dir;	/* the user's STATE/UID */
	uid_t		 uid;		/* the mail user */
	gid_t		 gid;
	int		 system_user;	/* groups by initgroups(user) */
	const char	*client_addr;	/* after PROXY protocol, if any */
	const char	*client_port;	/* "" when not an inet socket */
	const char	*server_addr;
	const char	*server_port;
	const char	*method;	/* "USER", "APOP", "SASL-PLAIN", ... */
};

enum onlogin_result {
	ONLOGIN_GO,		/* go on with the login */
	ONLOGIN_DENY_TEMP,	/* refuse it: -ERR [SYS/TEMP] */
};

/*
 * Runs the configured program (nothing configured: ONLOGIN_GO) and logs
 *
 *	onlogin user=NAME status=N first line of its output
 *
 * N is the exit status; 128 + the signal number when a signal ended it
 * (137 after the timeout's SIGKILL); 127 when the program does not exist,
 * 126 when it could not be started otherwise.  With onlogin-wait = yes,
 * returns ONLOGIN_DENY_TEMP for exit status 75, and for any other
 * failure when onlogin-failure = deny.  With onlogin-wait = no, the
 * program is handed to a detached monitor that logs the same line when
 * it ends, and the result is always ONLOGIN_GO.
 */
enum onlogin_result onlogin_run(const struct config *,
	    const struct onlogin_info *);

/* The `onlogin` key split on blanks: never a shell (onlogin_config.c). */
struct onlogin_argv {
	char	*buf;			/* the words, free() when done */
	char	*argv[ONLOGIN_ARGV_MAX + 1];
	size_t	 argc;
};

/*
 * Splits `s` into a->argv; 0, or -1 with *err set (too many words, none,
 * a program that is not an absolute path).  a->buf must be freed even
 * then.
 */
int	onlogin_argv(const char *s, struct onlogin_argv *a, const char **err);

/*
 * The onlogin keys' checks for config_check() / `pop3d -t`: the program
 * is an absolute path, at most ONLOGIN_ARGV_MAX words; onlogin-user
 * exists and is root only when named "root"; onlogin-failure = deny
 * needs onlogin-wait = yes.  Prints each problem; returns their number.
 */
int	onlogin_config_check(const struct config *);
/* (onlogin_config.c has no other dependency than log.c: it links
 * without the hook's process code.) */

#endif
