/*
 * auth = unix: getpwnam_r and getspnam_r, then crypt(3) from libxcrypt.
 * Locked, empty-hash and expired accounts are refused after the same
 * work a password check costs: an unknown user and a refused account
 * cannot be told from a wrong password by the time taken.
 */
#include <sys/types.h>

#include <crypt.h>
#include <errno.h>
#include <pwd.h>
#include <shadow.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "auth_backends.h"
#include "log.h"

/* Enough for any sane passwd or shadow line; ERANGE is a temporary failure. */
#define AUTH_UNIX_BUFLEN	16384

/*
 * shadow(5): "!" or "*" in front locks the password; an empty hash
 * would let anyone in; "x" without a shadow entry, or anything else
 * crypt(3) cannot check, can never match.
 */
static int
auth_unix_locked(const char *hash)
{
	int	 cs;

	if (hash[0] == '\0' || hash[0] == '!' || hash[0] == '*')
		return 1;
	cs = crypt_checksalt(hash);
	return cs != CRYPT_SALT_OK && cs != CRYPT_SALT_METHOD_LEGACY;
}

/*
 * shadow(5), in days since the epoch: the account expires at sp_expire;
 * sp_lstchg 0 means the password must be changed at the next login; past
 * sp_lstchg + sp_max the password has expired (and past sp_inact more,
 * the account is inactive).  POP3 cannot change a password, so each of
 * these refuses the login, as pam_unix's account check does
 * (PAM_NEW_AUTHTOK_REQD / PAM_ACCT_EXPIRED).
 */
static int
auth_unix_expired(const struct spwd *sp)
{
	long	 today = (long)(time(NULL) / (24 * 60 * 60));

	/* -1 (empty field) is "never"; 0 is 1 January 1970 (chage -E 0). */
	if (sp->sp_expire >= 0 && today >= sp->sp_expire)
		return 1;
	if (sp->sp_lstchg == 0)
		return 1;
	if (sp->sp_lstchg > 0 && sp->sp_max >= 0 &&
	    today >= sp->sp_lstchg + sp->sp_max)
		return 1;
	return 0;
}

static void
auth_unix_dummy(const struct config *cfg, const struct auth_request *req)
{
	auth_dummy_crypt(req->secret);
}

static enum auth_result
auth_unix_refuse(const struct auth_request *req, const char **reason,
    const char *why)
{
	auth_dummy_crypt(req->secret);
	*reason = why;
	return AUTH_FAIL;
}

static enum auth_result
auth_unix_decide(const struct auth_request *req, const struct passwd *pw,
    const struct spwd *sp, struct auth_user *au, const char **reason)
{
	const char	*hash = sp != NULL ? sp->sp_pwdp : pw->pw_passwd;

	/* Only a hash is stored: nothing to compute APOP/CRAM-MD5 from. */
	if (req->method != AUTH_METHOD_USER &&
	    req->method != AUTH_METHOD_PLAIN)
		return auth_unix_refuse(req, reason, "no plaintext secret");
	if (auth_unix_locked(hash))
		return auth_unix_refuse(req, reason, "locked");
	if (sp != NULL && auth_unix_expired(sp))
		return auth_unix_refuse(req, reason, "expired");
	if (!auth_crypt_match(req->secret, hash)) {
		*reason = "bad password";
		return AUTH_FAIL;
	}
	if (auth_user_from_pw(au, pw) == -1) {
		*reason = "unusable passwd entry";
		return AUTH_FAIL;
	}
	return AUTH_OK;
}

static enum auth_result
auth_unix_check(const struct config *cfg, const struct auth_request *req,
    struct auth_user *au, const char **reason)
{
	struct passwd	 pw;
	struct spwd	 sp, *spr = NULL;
	char		 pwbuf[AUTH_UNIX_BUFLEN], spbuf[AUTH_UNIX_BUFLEN];
	enum auth_result r;
	int		 e;

	if ((r = auth_getpw(req->user, &pw, pwbuf, sizeof(pwbuf))) !=
	    AUTH_OK) {
		*reason = r == AUTH_UNKNOWN ? "unknown user" :
		    "passwd lookup failed";
		return r;
	}
	e = getspnam_r(pw.pw_name, &sp, spbuf, sizeof(spbuf), &spr);
	if (spr == NULL && e != 0 && e != ENOENT) {
		errno = e;
		log_warn("getspnam_r");
		*reason = "shadow lookup failed";
		r = AUTH_TEMPFAIL;
	} else
		r = auth_unix_decide(req, &pw, spr, au, reason);
	explicit_bzero(spbuf, sizeof(spbuf));
	explicit_bzero(&sp, sizeof(sp));
	explicit_bzero(pwbuf, sizeof(pwbuf));
	return r;
}

static int
auth_unix_has_plain_secrets(const struct config *cfg)
{
	return 0;
}

static int
auth_unix_config_check(const struct config *cfg)
{
	return 0;
}

const struct auth_backend auth_unix_backend = {
	.name = "unix",
	.kind = AUTH_UNIX,
	.check = auth_unix_check,
	.dummy = auth_unix_dummy,
	.has_plain_secrets = auth_unix_has_plain_secrets,
	.config_check = auth_unix_config_check,
	.end = NULL,
};
