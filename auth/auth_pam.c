/*
 * auth = pam: Linux-PAM, service `pam-service` (pop3d.conf(5)
 * "Authentication").
 * pam_authenticate and pam_acct_mgmt must both succeed; then the
 * credentials and the session are opened here, in the root process,
 * before the switch to the user, and auth_pam_end() closes them when
 * the session is over.  PAM does USER/PASS and SASL PLAIN only.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <limits.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "auth_backends.h"
#include "config.h"
#include "log.h"
#include "names.h"

#define AUTH_PAM_BUFLEN		16384

/* The handle of the session a successful check opened. */
static pam_handle_t *auth_pam_handle;

static void
auth_pam_free_responses(struct pam_response *r, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		if (r[i].resp == NULL)
			continue;
		explicit_bzero(r[i].resp, strlen(r[i].resp));
		free(r[i].resp);
	}
	free(r);
}

/*
 * Answers password prompts (echo off) with the password, shows nothing
 * of the info and error texts, and refuses an echo-on prompt: that asks
 * for something the client never sent.  PAM frees the strdup'd
 * responses (pam_conv(3)); Linux-PAM wipes them first.
 */
static int
auth_pam_conv(int n, const struct pam_message **msg,
    struct pam_response **resp, void *data)
{
	const char		*secret = data;
	struct pam_response	*r;
	int			 i;

	*resp = NULL;
	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	if ((r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if ((r[i].resp = strdup(secret)) == NULL) {
				auth_pam_free_responses(r, n);
				return PAM_BUF_ERR;
			}
			break;
		case PAM_TEXT_INFO:
		case PAM_ERROR_MSG:
			break;
		default:
			auth_pam_free_responses(r, n);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/*
 * PAM modules ask for a delay after a failure (pam_unix: 2 s); the server
 * applies its own fail-delay to every failure alike, while PAM's would
 * make a wrong password slower than an unknown user.
 */
static void
auth_pam_no_delay(int status, unsigned int usec, void *data)
{
}

static enum auth_result
auth_pam_result(pam_handle_t *h, int rv, const char *step,
    const char **reason)
{
	switch (rv) {
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_CRED_INSUFFICIENT:
	case PAM_MAXTRIES:
		*reason = "bad password";
		return AUTH_FAIL;
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_ACCT_EXPIRED:
	case PAM_AUTHTOK_EXPIRED:
		*reason = "expired";
		return AUTH_FAIL;
	case PAM_PERM_DENIED:
		*reason = "denied by pam";
		return AUTH_FAIL;
	case PAM_CONV_ERR:
		*reason = "pam conversation refused";
		return AUTH_FAIL;
	default:
		log_warnx("pam %s: %s", step, pam_strerror(h, rv));
		*reason = "pam error";
		return AUTH_TEMPFAIL;
	}
}

/* Modules may rename the user (PAM_USER): take, and check, their name. */
static enum auth_result
auth_pam_user(pam_handle_t *h, const char *asked, struct auth_user *au,
    const char **reason)
{
	struct passwd	 pw;
	const void	*item = NULL;
	const char	*name;
	char		 buf[AUTH_PAM_BUFLEN];
	enum auth_result r;

	if (pam_get_item(h, PAM_USER, &item) != PAM_SUCCESS || item == NULL)
		name = asked;
	else
		name = item;
	if (!name_valid(name, strlen(name))) {
		*reason = "bad name from pam";
		return AUTH_FAIL;
	}
	if ((r = auth_getpw(name, &pw, buf, sizeof(buf))) != AUTH_OK) {
		*reason = "pam user not in passwd";
		r = r == AUTH_UNKNOWN ? AUTH_FAIL : r;
	} else if (auth_user_from_pw(au, &pw) == -1) {
		*reason = "unusable passwd entry";
		r = AUTH_FAIL;
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

static enum auth_result
auth_pam_run(pam_handle_t *h, const struct auth_request *req,
    struct auth_user *au, const char **reason)
{
	enum auth_result r;
	int		 rv;

	if (req->rhost != NULL &&
	    (rv = pam_set_item(h, PAM_RHOST, req->rhost)) != PAM_SUCCESS)
		return auth_pam_result(h, rv, "set PAM_RHOST", reason);
	if ((rv = pam_set_item(h, PAM_FAIL_DELAY,
	    (const void *)auth_pam_no_delay)) != PAM_SUCCESS)
		return auth_pam_result(h, rv, "set PAM_FAIL_DELAY", reason);
	rv = pam_authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rv != PAM_SUCCESS)
		return auth_pam_result(h, rv, "authenticate", reason);
	rv = pam_acct_mgmt(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (rv != PAM_SUCCESS)
		return auth_pam_result(h, rv, "acct_mgmt", reason);
	if ((r = auth_pam_user(h, req->user, au, reason)) != AUTH_OK)
		return r;
	rv = pam_setcred(h, PAM_ESTABLISH_CRED | PAM_SILENT);
	if (rv != PAM_SUCCESS)
		return auth_pam_result(h, rv, "setcred", reason);
	rv = pam_open_session(h, PAM_SILENT);
	if (rv != PAM_SUCCESS) {
		(void)pam_setcred(h, PAM_DELETE_CRED | PAM_SILENT);
		return auth_pam_result(h, rv, "open_session", reason);
	}
	return AUTH_OK;
}

/*
 * What pam_authenticate costs a known user on Debian 12's stack:
 * pam_unix (Linux-PAM 1.5.2) calls crypt_r twice per check, as measured
 * with a debugger.  Other stacks (sss, ldap) cannot be matched from here;
 * the server's fail-delay has to cover them.
 */
static void
auth_pam_dummy(const struct config *cfg, const struct auth_request *req)
{
	auth_dummy_crypt(req->secret);
	auth_dummy_crypt(req->secret);
}

static void
auth_pam_end(void)
{
	int	 rv;

	if (auth_pam_handle == NULL)
		return;
	rv = pam_close_session(auth_pam_handle, PAM_SILENT);
	if (rv != PAM_SUCCESS)
		log_warnx("pam close_session: %s",
		    pam_strerror(auth_pam_handle, rv));
	rv = pam_setcred(auth_pam_handle, PAM_DELETE_CRED | PAM_SILENT);
	(void)pam_end(auth_pam_handle, rv);
	auth_pam_handle = NULL;
}

static enum auth_result
auth_pam_check(const struct config *cfg, const struct auth_request *req,
    struct auth_user *au, const char **reason)
{
	struct pam_conv	 conv;
	struct passwd	 pw;
	pam_handle_t	*h = NULL;
	char		 buf[AUTH_PAM_BUFLEN];
	enum auth_result r;
	int		 rv;

	/*
	 * PAM answers an unknown user like a wrong password; passwd (NSS)
	 * tells them apart, so that the chain can go on to the next backend.
	 */
	r = auth_getpw(req->user, &pw, buf, sizeof(buf));
	explicit_bzero(buf, sizeof(buf));
	if (r != AUTH_OK) {
		*reason = r == AUTH_UNKNOWN ? "unknown user" :
		    "passwd lookup failed";
		return r;
	}
	if (req->method != AUTH_METHOD_USER &&
	    req->method != AUTH_METHOD_PLAIN) {
		auth_pam_dummy(cfg, req);
		*reason = "no plaintext secret";
		return AUTH_FAIL;
	}
	auth_pam_end();
	conv.conv = auth_pam_conv;
	conv.appdata_ptr = (void *)req->secret;
	rv = pam_start(cfg->pam_service, req->user, &conv, &h);
	if (rv != PAM_SUCCESS) {
		log_warnx("pam_start: %s", pam_strerror(h, rv));
		*reason = "pam error";
		return AUTH_TEMPFAIL;
	}
	if ((r = auth_pam_run(h, req, au, reason)) != AUTH_OK) {
		(void)pam_end(h, PAM_AUTH_ERR);
		memset(au, 0, sizeof(*au));
		return r;
	}
	auth_pam_handle = h;
	return AUTH_OK;
}

static int
auth_pam_has_plain_secrets(const struct config *cfg)
{
	return 0;
}

/* Without its service file, Linux-PAM uses "other" (Debian: deny all). */
static int
auth_pam_config_check(const struct config *cfg)
{
	static const char *const dirs[] = { "/etc/pam.d", "/usr/lib/pam.d" };
	const char	*svc = cfg->pam_service;
	struct stat	 st;
	char		 path[PATH_MAX];
	size_t		 i;

	if (svc == NULL || svc[0] == '\0' || svc[0] == '.' ||
	    strchr(svc, '/') != NULL) {
		log_warnx("pam-service must be a plain service name");
		return 1;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dirs[i], svc) >=
		    (int)sizeof(path))
			break;
		if (access(path, R_OK) == 0)
			return 0;
	}
	/* pam(8): with /etc/pam.d present, /etc/pam.conf is ignored. */
	if (stat("/etc/pam.d", &st) == -1 && access("/etc/pam.conf",
	    R_OK) == 0) {
		log_warnx("note: no /etc/pam.d/%s; /etc/pam.conf decides",
		    svc);
		return 0;
	}
	log_warnx("/etc/pam.d/%s: missing, PAM would use \"other\"", svc);
	return 1;
}

const struct auth_backend auth_pam_backend = {
	.name = "pam",
	.kind = AUTH_PAM,
	.check = auth_pam_check,
	.dummy = auth_pam_dummy,
	.has_plain_secrets = auth_pam_has_plain_secrets,
	.config_check = auth_pam_config_check,
	.end = auth_pam_end,
};
