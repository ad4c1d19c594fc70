/*
 * The backend table, the chain that asks the configured backends in
 * order (pop3d.conf(5) key `auth`), and the constant-time comparisons every
 * backend uses.
 */
#include <sys/types.h>

#include <crypt.h>
#include <errno.h>
#include <md5.h>
#include <pwd.h>
#include <sha2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "auth.h"
#include "auth_backends.h"
#include "config.h"
#include "log.h"
#include "names.h"

/* Rows exist for the backends meson built (-Dauth). */
static const struct auth_backend *const auth_backends[] = {
#if WITH_AUTH_FILE
	&auth_file_backend,
#endif
#if WITH_AUTH_UNIX
	&auth_unix_backend,
#endif
#if WITH_AUTH_PAM
	&auth_pam_backend,
#endif
};

#define AUTH_NBACKENDS	(sizeof(auth_backends) / sizeof(auth_backends[0]))

/*
 * OpenBSD's timingsafe_bcmp: libbsd 0.11 (Debian 12) lacks it.  The
 * volatile reads keep the compiler from stopping at the first difference.
 */
static int
auth_timingsafe_bcmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *p = a, *q = b;
	unsigned char	 d = 0;

	while (n-- > 0)
		d |= *p++ ^ *q++;
	return d != 0;
}

/* The backend whose successful check may have opened a session. */
static const struct auth_backend *auth_decided;

const struct auth_backend *
auth_backend(enum auth_kind kind)
{
	size_t	 i;

	for (i = 0; i < AUTH_NBACKENDS; i++)
		if (auth_backends[i]->kind == kind)
			return auth_backends[i];
	return NULL;
}

/* The pre-auth side checked all of this; the root side trusts nothing. */
static int
auth_request_ok(const struct auth_request *req)
{
	if (req->user == NULL || req->secret == NULL ||
	    !name_valid(req->user, strlen(req->user)))
		return 0;
	if (strnlen(req->secret, AUTH_SECRET_MAX + 1) > AUTH_SECRET_MAX)
		return 0;
	if (req->method == AUTH_METHOD_APOP ||
	    req->method == AUTH_METHOD_CRAM_MD5)
		return req->challenge != NULL && strnlen(req->challenge,
		    AUTH_CHALLENGE_MAX + 1) <= AUTH_CHALLENGE_MAX;
	return req->method == AUTH_METHOD_USER ||
	    req->method == AUTH_METHOD_PLAIN;
}

enum auth_result
auth_check(const struct config *cfg, const struct auth_request *req,
    struct auth_user *au, const char **reason)
{
	const struct auth_backend *b;
	enum auth_result r;
	size_t	 i;

	memset(au, 0, sizeof(*au));
	*reason = "bad request";
	if (!auth_request_ok(req))
		return AUTH_FAIL;
	for (i = 0; i < cfg->nauth; i++) {
		if ((b = auth_backend(cfg->auth[i])) == NULL) {
			/* config_check refuses this; never fall through. */
			*reason = "backend not built";
			return AUTH_TEMPFAIL;
		}
		*reason = "unknown user";
		r = b->check(cfg, req, au, reason);
		if (r == AUTH_UNKNOWN)
			continue;
		if (r != AUTH_OK) {
			memset(au, 0, sizeof(*au));
			return r;
		}
		au->backend = b->name;
		auth_decided = b;
		/*
		 * uid 0 never logs in unless allow-root says so
		 * (pop3d.conf(5)), with the same failure as a wrong
		 * password.  gid 0 too: a session in group root could
		 * read what root's group may (Dovecot's first_valid_gid=1
		 * does the same).
		 */
		if ((au->uid == 0 || au->gid == 0) && !cfg->allow_root) {
			auth_end();
			memset(au, 0, sizeof(*au));
			*reason = "uid 0 or gid 0 refused";
			return AUTH_FAIL;
		}
		*reason = "ok";
		return AUTH_OK;
	}
	/* Nobody knows the user: spend what a real check costs. */
	if (cfg->nauth > 0 && (b = auth_backend(cfg->auth[0])) != NULL)
		b->dummy(cfg, req);
	*reason = "unknown user";
	return AUTH_FAIL;
}

int
auth_has_plain_secrets(const struct config *cfg)
{
	const struct auth_backend *b;
	size_t	 i;

	for (i = 0; i < cfg->nauth; i++)
		if ((b = auth_backend(cfg->auth[i])) != NULL &&
		    b->has_plain_secrets != NULL && b->has_plain_secrets(cfg))
			return 1;
	return 0;
}

void
auth_end(void)
{
	if (auth_decided != NULL && auth_decided->end != NULL)
		auth_decided->end();
	auth_decided = NULL;
}

int
auth_crypt_match(const char *password, const char *hash)
{
	struct crypt_data *cd;
	const char	*out;
	size_t		 len;
	int		 match = 0;

	if (password == NULL || hash == NULL)
		return 0;
	/* About 32 KiB: too big for the stack of a small process. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		log_warn("%s: calloc", __func__);
		return 0;
	}
	out = crypt_rn(password, hash, cd, sizeof(*cd));
	/*
	 * A hash that cannot be checked never matches: crypt(3) fails with
	 * NULL or a "*..." string (DESIGN.md "What is never trusted").  The
	 * length compared is the stored hash's, which is no secret.
	 */
	len = strlen(hash);
	if (out != NULL && out[0] != '*' && strlen(out) == len &&
	    auth_timingsafe_bcmp(out, hash, len) == 0)
		match = 1;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return match;
}

static void
auth_sha256(const char *s, uint8_t out[SHA256_DIGEST_LENGTH])
{
	SHA2_CTX	 ctx;

	SHA256Init(&ctx);
	SHA256Update(&ctx, (const uint8_t *)s, strlen(s));
	SHA256Final(out, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
}

/* Comparing digests keeps the secret's length out of the timing. */
int
auth_plain_match(const char *given, const char *secret)
{
	uint8_t	 a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
	int	 match;

	if (given == NULL || secret == NULL)
		return 0;
	auth_sha256(given, a);
	auth_sha256(secret, b);
	match = auth_timingsafe_bcmp(a, b, sizeof(a)) == 0;
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	return match;
}

/* RFC 2104 §2: H(K ^ opad, H(K ^ ipad, text)) with H = MD5. */
static void
auth_hmac_md5(const char *key, const char *text,
    uint8_t out[MD5_DIGEST_LENGTH])
{
	uint8_t	 k[MD5_BLOCK_LENGTH], pad[MD5_BLOCK_LENGTH];
	uint8_t	 inner[MD5_DIGEST_LENGTH];
	MD5_CTX	 ctx;
	size_t	 i, klen = strlen(key);

	memset(k, 0, sizeof(k));
	if (klen > MD5_BLOCK_LENGTH) {
		/* Keys longer than a block are hashed first (RFC 2104 §3). */
		MD5Init(&ctx);
		MD5Update(&ctx, (const uint8_t *)key, klen);
		MD5Final(k, &ctx);
	} else
		memcpy(k, key, klen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	MD5Init(&ctx);
	MD5Update(&ctx, pad, sizeof(pad));
	MD5Update(&ctx, (const uint8_t *)text, strlen(text));
	MD5Final(inner, &ctx);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	MD5Init(&ctx);
	MD5Update(&ctx, pad, sizeof(pad));
	MD5Update(&ctx, inner, sizeof(inner));
	MD5Final(out, &ctx);
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
	explicit_bzero(inner, sizeof(inner));
	explicit_bzero(&ctx, sizeof(ctx));
}

/* RFC 1939 §7: MD5(timestamp || secret). */
static void
auth_apop_md5(const char *challenge, const char *secret,
    uint8_t out[MD5_DIGEST_LENGTH])
{
	MD5_CTX	 ctx;

	MD5Init(&ctx);
	MD5Update(&ctx, (const uint8_t *)challenge, strlen(challenge));
	MD5Update(&ctx, (const uint8_t *)secret, strlen(secret));
	MD5Final(out, &ctx);
	explicit_bzero(&ctx, sizeof(ctx));
}

/*
 * Both RFCs send the digest as lowercase hex; a client's uppercase is
 * folded.  Only the length (always 32) decides anything before the
 * constant-time compare.
 */
static int
auth_hex_match(const uint8_t d[MD5_DIGEST_LENGTH], const char *given)
{
	static const char hex[] = "0123456789abcdef";
	char	 want[MD5_DIGEST_LENGTH * 2], got[MD5_DIGEST_LENGTH * 2];
	size_t	 i;
	int	 match;

	if (strnlen(given, sizeof(got) + 1) != sizeof(got))
		return 0;
	for (i = 0; i < MD5_DIGEST_LENGTH; i++) {
		want[2 * i] = hex[d[i] >> 4];
		want[2 * i + 1] = hex[d[i] & 0xf];
	}
	for (i = 0; i < sizeof(got); i++)
		got[i] = given[i] >= 'A' && given[i] <= 'F' ?
		    (char)(given[i] - 'A' + 'a') : given[i];
	match = auth_timingsafe_bcmp(want, got, sizeof(got)) == 0;
	explicit_bzero(want, sizeof(want));
	explicit_bzero(got, sizeof(got));
	return match;
}

int
auth_digest_match(const struct auth_request *req, const char *secret)
{
	uint8_t	 d[MD5_DIGEST_LENGTH];
	int	 match;

	if (secret == NULL || req->secret == NULL || req->challenge == NULL)
		return 0;
	switch (req->method) {
	case AUTH_METHOD_APOP:
		auth_apop_md5(req->challenge, secret, d);
		break;
	case AUTH_METHOD_CRAM_MD5:
		/* RFC 2195 §2: keyed with the secret, over the challenge. */
		auth_hmac_md5(secret, req->challenge, d);
		break;
	default:
		return 0;
	}
	match = auth_hex_match(d, req->secret);
	explicit_bzero(d, sizeof(d));
	return match;
}

void
auth_dummy_crypt(const char *password)
{
	/* SHA-512, never DES, should the library have no default. */
	static const char fallback[] = "$6$pop3dDummySalt";
	static char	 setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (setting[0] == '\0' && crypt_gensalt_rn(NULL, 0, NULL, 0,
	    setting, sizeof(setting)) == NULL) {
		log_warn("%s: crypt_gensalt_rn", __func__);
		strlcpy(setting, fallback, sizeof(setting));
	}
	(void)auth_crypt_match(password != NULL ? password : "", setting);
}

enum auth_result
auth_getpw(const char *user, struct passwd *pw, char *buf, size_t len)
{
	struct passwd	*res = NULL;
	int		 e;

	e = getpwnam_r(user, pw, buf, len, &res);
	if (res != NULL)
		return AUTH_OK;
	/* getpwnam_r(3): these all mean "not found". */
	if (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return AUTH_UNKNOWN;
	errno = e;
	log_warn("getpwnam_r");
	return AUTH_TEMPFAIL;
}

int
auth_user_from_pw(struct auth_user *au, const struct passwd *pw)
{
	/* NSS may answer with another spelling: check what it gave. */
	if (!name_valid(pw->pw_name, strlen(pw->pw_name)) ||
	    strlcpy(au->name, pw->pw_name, sizeof(au->name)) >=
	    sizeof(au->name) ||
	    strlcpy(au->home, pw->pw_dir, sizeof(au->home)) >=
	    sizeof(au->home))
		return -1;
	au->uid = pw->pw_uid;
	au->gid = pw->pw_gid;
	au->system_user = 1;
	au->maildrop[0] = '\0';
	return 0;
}
