/*
 * Configuration: `key = value` lines (pop3d.conf(5)), then
 * `-o KEY=VALUE` overrides.  Every key is a row of one table in config.c,
 * with its type, bounds and default; nothing else knows the key names.
 */
#ifndef POP3D_CONFIG_H
#define POP3D_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

/* The types of the values, from the modules they belong to. */
#include "auth.h"		/* enum auth_kind */
#include "io.h"			/* enum tls_mode */
#include "onlogin.h"		/* enum onlogin_failure */

#define CONFIG_MAX_AUTH	3

/* SASL mechanisms, as bits of config.sasl. */
#define SASL_PLAIN	0x1
#define SASL_CRAM_MD5	0x2

struct config {
	enum auth_kind	 auth[CONFIG_MAX_AUTH];
	size_t		 nauth;
	char		*auth_file;
	long long	 file_uid;	/* -1: none */
	long long	 file_gid;	/* -1: none */
	char		*maildrop;	/* FORMAT:PATH template */
	char		*onlogin;	/* NULL: none */
	int		 onlogin_wait;
	long long	 onlogin_timeout;
	char		*onlogin_user;	/* NULL: the authenticated user */
	enum onlogin_failure onlogin_failure;
	long long	 timeout;
	char		*greeting;
	int		 apop;
	int		 sasl;		/* SASL_* bits */
	enum tls_mode	 tls;
	char		*tls_cert;
	char		*tls_key;
	int		 plaintext_auth;
	char		*proxy_from;
	long long	 login_delay;
	long long	 expire;	/* days; -1 never, -2 not advertised */
	char		*pam_service;
	char		*privsep_user;
	char		*privsep_dir;
	char		*state_dir;	/* NULL: the mode's default */
	long long	 max_failures;
	long long	 fail_delay;
	int		 allow_root;
};

/* Fills in the compiled defaults. */
void	config_defaults(struct config *);
/* Frees the strings a config holds. */
void	config_free(struct config *);

/*
 * Reads `file` (missing is fine unless `must_exist`), then applies the
 * KEY=VALUE overrides.  Problems are reported on stderr/syslog as
 * "FILE:LINE: message"; returns the number of problems (0 = good).
 */
int	config_load(struct config *, const char *file, int must_exist,
	    char *const *overrides, size_t noverrides);

/* Sets one key from its text; returns NULL or a static error message. */
const char *config_set(struct config *, const char *key, const char *value);

/*
 * Checks of values that need no other module (paths that must be
 * absolute); the number of problems, each logged.  The checks across
 * modules (backends, onlogin, APOP and SASL secrets) are confcheck.c's.
 */
int	config_check(const struct config *);

/*
 * The maildrop template is checked where it is read, so that a bad one
 * is reported with its line, by expanding a sample name; only the
 * maildrop module knows the formats, so the program that has it sets
 * the check (pop3d: confcheck_maildrop) before config_defaults().  Without
 * one, any template is taken.  It returns NULL or a static message.
 */
void	config_set_maildrop_check(const char *(*)(const char *));

const char *auth_kind_name(enum auth_kind);

#endif
