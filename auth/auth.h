/*
 * Authentication backends behind one small interface: a table of function
 * pointers, one row per backend built in.
 * The root side of the privilege flow calls auth_check() with what the
 * pre-auth child sent; backends never see network bytes directly.
 *
 * The chain (pop3d.conf(5) key `auth`): the first backend that knows the user
 * decides; a wrong password there is final.  When no backend knows the
 * user, a dummy check of the same cost runs, so that an unknown user and
 * a wrong password take the same time and get the same reply.
 */
#ifndef POP3D_AUTH_H
#define POP3D_AUTH_H

#include <limits.h>
#include <sys/types.h>

#include "names.h"

struct config;

/* The backends, in the order of the `auth` key's names (config.c). */
enum auth_kind { AUTH_FILE, AUTH_UNIX, AUTH_PAM, AUTH_KINDS };

/* Longest secret accepted from a client (PASS, SASL PLAIN password). */
#define AUTH_SECRET_MAX		512
/* Longest APOP timestamp or CRAM-MD5 challenge. */
#define AUTH_CHALLENGE_MAX	128
#define AUTH_MAILDROP_MAX	(PATH_MAX + 16)

enum auth_method {
	AUTH_METHOD_USER,	/* USER/PASS */
	AUTH_METHOD_APOP,	/* secret: 32 hex digits of MD5(ts || secret) */
	AUTH_METHOD_PLAIN,	/* SASL PLAIN: secret is the password */
	AUTH_METHOD_CRAM_MD5,	/* secret: 32 hex digits of HMAC-MD5 */
};

enum auth_result {
	AUTH_UNKNOWN,		/* this backend does not know the user */
	AUTH_OK,
	AUTH_FAIL,		/* known user, refused: final */
	AUTH_TEMPFAIL,		/* backend could not decide (I/O, PAM) */
};

struct auth_request {
	enum auth_method method;
	const char	*user;		/* already passed name_valid() */
	const char	*secret;
	const char	*challenge;	/* APOP timestamp / CRAM challenge */
	const char	*rhost;		/* client address, for PAM_RHOST */
};

/* What a successful login knows about the user. */
struct auth_user {
	char		 name[NAME_MAX_LEN + 1];
	uid_t		 uid;
	gid_t		 gid;
	int		 system_user;	/* supplementary groups by initgroups */
	char		 home[PATH_MAX];
	char		 maildrop[AUTH_MAILDROP_MAX];	/* "" = global */
	const char	*backend;	/* name of the backend that decided */
};

struct auth_backend {
	const char	*name;
	enum auth_kind	 kind;
	/*
	 * Decides for a user it knows; returns AUTH_UNKNOWN quickly for one
	 * it does not.  `reason` gets a short static text for the log.
	 */
	enum auth_result (*check)(const struct config *,
	    const struct auth_request *, struct auth_user *,
	    const char **reason);
	/* Burns the time a real check of an unknown user's password costs. */
	void		 (*dummy)(const struct config *,
	    const struct auth_request *);
	/* 1 if the backend can hold plaintext secrets (APOP, CRAM-MD5). */
	int		 (*has_plain_secrets)(const struct config *);
	/* Problems for `pop3d -t`, printed by the backend; returns count. */
	int		 (*config_check)(const struct config *);
	/* Ends what a successful check opened (PAM session); may be NULL. */
	void		 (*end)(void);
};

/* The backend of that kind, or NULL when it was not built. */
const struct auth_backend *auth_backend(enum auth_kind);

enum auth_result auth_check(const struct config *,
	    const struct auth_request *, struct auth_user *,
	    const char **reason);
/* 1 if some configured backend can hold plaintext secrets. */
int	auth_has_plain_secrets(const struct config *);
void	auth_end(void);

/*
 * Shared helpers for backends.  auth_crypt_match checks a password against
 * a crypt(3) string in constant time; a NULL or "*..." result never
 * matches.  auth_plain_match compares two secrets in constant time
 * whatever their lengths.  Both return 1 on match.
 */
int	auth_crypt_match(const char *password, const char *hash);
int	auth_plain_match(const char *given, const char *secret);
/* The secret for APOP/CRAM-MD5 checks: 1 if `response` matches. */
int	auth_digest_match(const struct auth_request *, const char *secret);

#endif
