/*
 * The onlogin keys as configuration: splitting `onlogin` into an argv,
 * and the checks `pop3d -t` and every start make (pop3d.conf(5) "The
 * onlogin program"; called from confcheck.c).  Apart from onlogin.c so
 * that it needs nothing of the hook's process code.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "onlogin.h"

int
onlogin_argv(const char *s, struct onlogin_argv *a, const char **err)
{
	char	*p, *word;

	a->argc = 0;
	a->argv[0] = NULL;
	if ((a->buf = strdup(s)) == NULL) {
		*err = "out of memory";
		return -1;
	}
	/* docs/onlogin.md: split on white space; no quoting, no shell. */
	for (p = a->buf; (word = strsep(&p, " \t")) != NULL;) {
		if (*word == '\0')
			continue;
		if (a->argc == ONLOGIN_ARGV_MAX) {
			*err = "too many words";
			return -1;
		}
		a->argv[a->argc++] = word;
		a->argv[a->argc] = NULL;
	}
	if (a->argc == 0) {
		*err = "no program named";
		return -1;
	}
	/* Never a PATH search: execve of an absolute path only. */
	if (a->argv[0][0] != '/') {
		*err = "the program must be an absolute path";
		return -1;
	}
	return 0;
}

int
onlogin_config_check(const struct config *cfg)
{
	struct onlogin_argv a;
	struct passwd	*pw;
	const char	*err;
	int		 problems = 0;

	if (cfg->onlogin != NULL) {
		if (onlogin_argv(cfg->onlogin, &a, &err) == -1) {
			log_warnx("onlogin: %s", err);
			problems++;
		}
		free(a.buf);
	}
	if (cfg->onlogin_user != NULL) {
		if ((pw = getpwnam(cfg->onlogin_user)) == NULL) {
			log_warnx("onlogin-user: no such user: %s",
			    cfg->onlogin_user);
			problems++;
		} else if (pw->pw_uid == 0 &&
		    strcmp(cfg->onlogin_user, "root") != 0) {
			/* Root only when named "root" (docs/onlogin.md). */
			log_warnx("onlogin-user: %s has uid 0; name root "
			    "itself to run the program as root",
			    cfg->onlogin_user);
			problems++;
		}
	}
	/* Detached, nobody waits for a verdict that could deny. */
	if (cfg->onlogin_failure == ONLOGIN_DENY && !cfg->onlogin_wait) {
		log_warnx("onlogin-failure: deny needs onlogin-wait = yes");
		problems++;
	}
	return problems;
}
