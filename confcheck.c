/*
 * The checks of a configuration that need other modules: config.c
 * parses and checks single values only, so that it and its tests stand
 * alone; what depends on the backends built in, on the onlogin keys
 * together, or on what the backends can store is asked here.  The order
 * of the messages is that of `pop3d -t` (pop3d(8)).
 */
#include <limits.h>
#include <stddef.h>

#include "auth.h"
#include "confcheck.h"
#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "onlogin.h"

const char *
confcheck_maildrop(const char *v)
{
	const struct maildrop_ops *ops;
	const char	*err;
	char		 path[PATH_MAX];

	if (maildrop_expand(v, "user@example.org", "/home/user", &ops, path,
	    sizeof(path), &err) == -1)
		return err;
	return NULL;
}

int
confcheck_run(const struct config *c, int full)
{
	const struct auth_backend *b;
	int	 problems = 0;
	size_t	 i;

	for (i = 0; i < c->nauth; i++) {
		if ((b = auth_backend(c->auth[i])) == NULL) {
			log_warnx("auth: backend '%s' is not built in",
			    auth_kind_name(c->auth[i]));
			problems++;
		} else if (full && b->config_check != NULL)
			problems += b->config_check(c);
	}
	problems += config_check(c);
	problems += onlogin_config_check(c);
	if (c->apop && !auth_has_plain_secrets(c)) {
		log_warnx("apop: needs a backend with {PLAIN} secrets");
		problems++;
	}
	if ((c->sasl & SASL_CRAM_MD5) && !auth_has_plain_secrets(c)) {
		log_warnx("sasl: CRAM-MD5 needs a backend with {PLAIN} secrets");
		problems++;
	}
	return problems;
}
