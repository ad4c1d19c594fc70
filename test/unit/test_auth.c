/*
 * Authentication: the shared comparisons (crypt hashes made at test time,
 * RFC known-answer vectors for APOP and CRAM-MD5), the chain over a users
 * file written here, the pop3d -t report of that file, the timing of
 * unknown users (DESIGN.md "Limits and why"), and -- when run as root -- the unix
 * backend with a real account made by useradd and removed at exit.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <md5.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "auth.h"
#include "config.h"
#include "log.h"

#include "check.h"

static char	 tmp[256];

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

static void
make_hash(const char *prefix, unsigned long cost, const char *pw, char *out,
    size_t len)
{
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;
	const char		*h;

	cd = calloc(1, sizeof(*cd));
	if (cd == NULL || crypt_gensalt_rn(prefix, cost, NULL, 0, setting,
	    sizeof(setting)) == NULL ||
	    (h = crypt_rn(pw, setting, cd, sizeof(*cd))) == NULL ||
	    h[0] == '*')
		die("make_hash");
	snprintf(out, len, "%s", h);
	free(cd);
}

static void
test_crypt_match(void)
{
	static const struct {
		const char	*prefix;
		unsigned long	 cost;
	} methods[] = {
		{ "$y$", 0 },		/* yescrypt: Debian 12's default */
		{ "$6$", 5000 },	/* sha512crypt */
		{ "$2b$", 5 },		/* bcrypt, cheap cost for the test */
		{ "$1$", 0 },		/* md5crypt: legacy, still checked */
	};
	char	 h[CRYPT_OUTPUT_SIZE], cut[CRYPT_OUTPUT_SIZE + 1];
	size_t	 i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		make_hash(methods[i].prefix, methods[i].cost, "correct horse",
		    h, sizeof(h));
		CHECK(strncmp(h, methods[i].prefix,
		    strlen(methods[i].prefix)) == 0);
		CHECK(auth_crypt_match("correct horse", h) == 1);
		CHECK(auth_crypt_match("correct horsE", h) == 0);
		CHECK(auth_crypt_match("correct hors", h) == 0);
		CHECK(auth_crypt_match("correct horse ", h) == 0);
		CHECK(auth_crypt_match("", h) == 0);
		/* A truncated hash never matches. */
		snprintf(cut, sizeof(cut), "%.*s", (int)strlen(h) - 1, h);
		CHECK(auth_crypt_match("correct horse", cut) == 0);
		/* Locked forms of the same hash never match. */
		snprintf(cut, sizeof(cut), "!%s", h);
		CHECK(auth_crypt_match("correct horse", cut) == 0);
		snprintf(cut, sizeof(cut), "*%s", h);
		CHECK(auth_crypt_match("correct horse", cut) == 0);
	}
	/* Failures of crypt(3) (NULL or "*...") are never a match. */
	CHECK(auth_crypt_match("", "") == 0);
	CHECK(auth_crypt_match("x", "*") == 0);
	CHECK(auth_crypt_match("x", "*0") == 0);
	CHECK(auth_crypt_match("x", "x") == 0);
	CHECK(auth_crypt_match("x", "$9$abc$def") == 0);
	CHECK(auth_crypt_match("x", NULL) == 0);
	CHECK(auth_crypt_match(NULL, "$6$abc$def") == 0);
	/* A setting alone is not a hash of anything. */
	CHECK(auth_crypt_match("x", "$6$saltsalt") == 0);
	/* Traditional DES still checks (legacy). */
	make_hash("", 0, "secret", h, sizeof(h));
	CHECK(strlen(h) == 13);
	CHECK(auth_crypt_match("secret", h) == 1);
	CHECK(auth_crypt_match("secreT", h) == 0);
}

static void
test_plain_match(void)
{
	CHECK(auth_plain_match("secret", "secret") == 1);
	CHECK(auth_plain_match("secret", "Secret") == 0);
	CHECK(auth_plain_match("secret", "secret ") == 0);
	CHECK(auth_plain_match("secre", "secret") == 0);
	CHECK(auth_plain_match("", "") == 1);
	CHECK(auth_plain_match("", "x") == 0);
	CHECK(auth_plain_match(NULL, "x") == 0);
	CHECK(auth_plain_match("x", NULL) == 0);
}

static int
digest(enum auth_method m, const char *challenge, const char *response,
    const char *secret)
{
	struct auth_request req;

	memset(&req, 0, sizeof(req));
	req.method = m;
	req.user = "tim";
	req.challenge = challenge;
	req.secret = response;
	return auth_digest_match(&req, secret);
}

static void
test_digest_match(void)
{
	static const char apop_ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	static const char cram_ch[] =
	    "<1896.697170952@postoffice.reston.mci.net>";
	char	 longkey[81];

	/* RFC 1939 §7: user mrose, secret tanstaaf. */
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fb", "tanstaaf") == 1);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "C4C9334BAC560ECC979E58001B3E22FB", "tanstaaf") == 1);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fa", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22f", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fb0", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fb", "tanstaaF") == 0);
	CHECK(digest(AUTH_METHOD_APOP, "<1896.697170952@dbc.mtview.ca.us",
	    "c4c9334bac560ecc979e58001b3e22fb", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts, "", "tanstaaf") == 0);
	/* Mixed case folds; a non-hex letter never matches. */
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fB", "tanstaaf") == 1);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fG", "tanstaaf") == 0);

	/* RFC 2195 §2: user tim, secret tanstaaftanstaaf. */
	CHECK(digest(AUTH_METHOD_CRAM_MD5, cram_ch,
	    "b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf") == 1);
	CHECK(digest(AUTH_METHOD_CRAM_MD5, cram_ch,
	    "B913A602C7EDA7A495B4E6E7334D3890", "tanstaaftanstaaf") == 1);
	CHECK(digest(AUTH_METHOD_CRAM_MD5, cram_ch,
	    "b913a602c7eda7a495b4e6e7334d3891", "tanstaaftanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_CRAM_MD5, cram_ch,
	    "b913a602c7eda7a495b4e6e7334d3890", "tanstaaf") == 0);
	/* The APOP digest is no CRAM-MD5 answer, and the reverse. */
	CHECK(digest(AUTH_METHOD_CRAM_MD5, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fb", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, cram_ch,
	    "b913a602c7eda7a495b4e6e7334d3890", "tanstaaftanstaaf") == 0);
	/* RFC 2202 §2 HMAC-MD5 cases 2 and 6 (a key longer than a block). */
	CHECK(digest(AUTH_METHOD_CRAM_MD5, "what do ya want for nothing?",
	    "750c783e6ab0b503eaa86e310a5db738", "Jefe") == 1);
	memset(longkey, 0xaa, 80);
	longkey[80] = '\0';
	CHECK(digest(AUTH_METHOD_CRAM_MD5,
	    "Test Using Larger Than Block-Size Key - Hash Key First",
	    "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd", longkey) == 1);
	/* Around the block size: 64 octets used as is, 65 hashed first. */
	memset(longkey, 'k', 65);
	longkey[64] = '\0';
	CHECK(digest(AUTH_METHOD_CRAM_MD5, "x",
	    "f38420ee2e6c7cd5d9977bffba49d984", longkey) == 1);
	longkey[64] = 'k';
	longkey[65] = '\0';
	CHECK(digest(AUTH_METHOD_CRAM_MD5, "x",
	    "35d6a3481580c58aab0efcc7f04c5e59", longkey) == 1);
	/* USER/PLAIN are no digest methods. */
	CHECK(digest(AUTH_METHOD_USER, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fb", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, NULL,
	    "c4c9334bac560ecc979e58001b3e22fb", "tanstaaf") == 0);
	CHECK(digest(AUTH_METHOD_APOP, apop_ts,
	    "c4c9334bac560ecc979e58001b3e22fb", NULL) == 0);
}

/* --- the chain over a users file ------------------------------------ */

#if WITH_AUTH_FILE
static void write_file(const char *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
write_file(const char *path, const char *fmt, ...)
{
	va_list	 ap;
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		die(path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) == EOF)
		die(path);
	if (chmod(path, 0600) == -1)
		die(path);
}


static struct config
file_cfg(const char *file)
{
	struct config	 c;

	memset(&c, 0, sizeof(c));
	c.auth[0] = AUTH_FILE;
	c.nauth = 1;
	c.auth_file = (char *)file;
	c.file_uid = -1;
	c.file_gid = -1;
	c.pam_service = "pop3d";
	return c;
}

static enum auth_result
try(const struct config *cfg, enum auth_method m, const char *user,
    const char *secret, const char *challenge, struct auth_user *au,
    const char **reason)
{
	struct auth_request req;
	enum auth_result r;

	memset(&req, 0, sizeof(req));
	req.method = m;
	req.user = user;
	req.secret = secret;
	req.challenge = challenge;
	req.rhost = "192.0.2.1";
	*reason = NULL;
	r = auth_check(cfg, &req, au, reason);
	auth_end();
	return r;
}

static char	 users_path[PATH_MAX];
static char	 alice_hash[CRYPT_OUTPUT_SIZE];

/* Line numbers matter to test_config_check. */
static void
write_users(void)
{
	char	 frank[CRYPT_OUTPUT_SIZE], carol[CRYPT_OUTPUT_SIZE];

	make_hash("$y$", 0, "alicepw", alice_hash, sizeof(alice_hash));
	make_hash("$6$", 5000, "frankpw", frank, sizeof(frank));
	make_hash("$y$", 0, "carolpw", carol, sizeof(carol));
	snprintf(users_path, sizeof(users_path), "%s/users", tmp);
	write_file(users_path,
	    "# pop3d test users\n"						/* 1 */
	    "\n"								/* 2 */
	    "alice:%s:1001:1001::/home/alice::maildrop=maildir:~/Maildir\n"	/* 3 */
	    "bob:{PLAIN}bobpw:1002:1002::/home/bob\n"				/* 4 */
	    "carol:!%s:1003:1003\n"						/* 5 */
	    "dave:{SSHA}abcdef:1004:1004\n"					/* 6 */
	    "rooty:{PLAIN}rootpw:0:0::/root\n"					/* 7 */
	    "eve:{PLAIN}evepw\n"						/* 8 */
	    "frank:{SHA512-CRYPT}%s::\n"					/* 9 */
	    "alice:{PLAIN}second:1009:1009\n"					/* 10 */
	    "gina:{PLAIN}ginapw:1010:1010::/home/gina::"
	    "userdb_mail=mbox:~/mail:INBOX=/var/mail/%%n\n"			/* 11 */
	    "hank:{PLAIN}hankpw:1011:1011::::nologin=y\n"			/* 12 */
	    "mrose:{PLAIN}tanstaaf:1012:1012::::quota=1G\n"			/* 13 */
	    "tim:{CLEARTEXT}tanstaaftanstaaf:1013:1013\n"			/* 14 */
	    "ivan:{PLAIN}ivanpw:1014:1014::relative\n"				/* 15 */
	    "judy:\n",								/* 16 */
	    alice_hash, carol, frank);
}

static void
test_chain_file(void)
{
	struct config	 cfg = file_cfg(users_path);
	struct auth_user au;
	const char	*why;

	CHECK(try(&cfg, AUTH_METHOD_USER, "alice", "alicepw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK_STREQ(why, "ok");
	CHECK_STREQ(au.name, "alice");
	CHECK(au.uid == 1001 && au.gid == 1001);
	CHECK(au.system_user == 0);
	CHECK_STREQ(au.home, "/home/alice");
	CHECK_STREQ(au.maildrop, "maildir:~/Maildir");
	CHECK_STREQ(au.backend, "file");
	CHECK(try(&cfg, AUTH_METHOD_PLAIN, "alice", "alicepw", NULL, &au,
	    &why) == AUTH_OK);

	CHECK(try(&cfg, AUTH_METHOD_USER, "alice", "alicepW", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "bad password");
	CHECK(au.name[0] == '\0' && au.backend == NULL);
	/* The duplicate line's password does not count: the first wins. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "alice", "second", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "bad password");
	/* Names are exact. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "Alice", "alicepw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "unknown user");

	CHECK(try(&cfg, AUTH_METHOD_USER, "nobody-here", "x", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "unknown user");

	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", "bobpw", NULL, &au, &why) ==
	    AUTH_OK);
	CHECK(au.uid == 1002 && check_streq(au.maildrop, ""));
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", "bobpw ", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", "", NULL, &au, &why) ==
	    AUTH_FAIL);

	/* Disabled, even with the right password behind the '!'. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "carol", "carolpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "disabled");
	CHECK(try(&cfg, AUTH_METHOD_USER, "hank", "hankpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "disabled");
	CHECK(try(&cfg, AUTH_METHOD_USER, "judy", "", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "disabled");

	CHECK(try(&cfg, AUTH_METHOD_USER, "dave", "abcdef", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "malformed entry");
	CHECK(try(&cfg, AUTH_METHOD_USER, "ivan", "ivanpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "malformed entry");

	/* uid 0: refused with the right password unless allowed. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "rooty", "rootpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "uid 0 or gid 0 refused");
	CHECK(au.name[0] == '\0');
	CHECK(try(&cfg, AUTH_METHOD_USER, "rooty", "wrong", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "bad password");
	cfg.allow_root = 1;
	CHECK(try(&cfg, AUTH_METHOD_USER, "rooty", "rootpw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK(au.uid == 0 && au.gid == 0);
	cfg.allow_root = 0;

	/* Empty uid/gid: file-uid/file-gid, or no login at all. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "eve", "evepw", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "no uid or gid");
	CHECK(try(&cfg, AUTH_METHOD_USER, "frank", "frankpw", NULL, &au,
	    &why) == AUTH_FAIL);
	cfg.file_uid = 5000;
	CHECK(try(&cfg, AUTH_METHOD_USER, "eve", "evepw", NULL, &au, &why) ==
	    AUTH_FAIL);
	cfg.file_gid = 5001;
	CHECK(try(&cfg, AUTH_METHOD_USER, "eve", "evepw", NULL, &au, &why) ==
	    AUTH_OK);
	CHECK(au.uid == 5000 && au.gid == 5001 && check_streq(au.home, ""));
	CHECK(try(&cfg, AUTH_METHOD_USER, "frank", "frankpw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK(au.uid == 5000 && au.gid == 5001);
	/* A number in the file beats the default. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", "bobpw", NULL, &au, &why) ==
	    AUTH_OK);
	CHECK(au.uid == 1002 && au.gid == 1002);
	cfg.file_uid = cfg.file_gid = -1;

	/* Dovecot's mail location maps onto the maildrop override. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "gina", "ginapw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK_STREQ(au.maildrop, "mbox:/var/mail/%l");
	CHECK_STREQ(au.home, "/home/gina");
}

static void
test_chain_digest(void)
{
	static const char apop_ts[] = "<1896.697170952@dbc.mtview.ca.us>";
	static const char cram_ch[] =
	    "<1896.697170952@postoffice.reston.mci.net>";
	struct config	 cfg = file_cfg(users_path);
	struct auth_user au;
	const char	*why;

	CHECK(try(&cfg, AUTH_METHOD_APOP, "mrose",
	    "c4c9334bac560ecc979e58001b3e22fb", apop_ts, &au, &why) ==
	    AUTH_OK);
	CHECK(au.uid == 1012 && check_streq(au.name, "mrose"));
	CHECK(try(&cfg, AUTH_METHOD_APOP, "mrose",
	    "c4c9334bac560ecc979e58001b3e22fc", apop_ts, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "bad password");
	/* The plaintext itself is no APOP answer. */
	CHECK(try(&cfg, AUTH_METHOD_APOP, "mrose", "tanstaaf", apop_ts, &au,
	    &why) == AUTH_FAIL);
	CHECK(try(&cfg, AUTH_METHOD_CRAM_MD5, "tim",
	    "b913a602c7eda7a495b4e6e7334d3890", cram_ch, &au, &why) ==
	    AUTH_OK);
	CHECK(au.uid == 1013);
	CHECK(try(&cfg, AUTH_METHOD_CRAM_MD5, "tim",
	    "b913a602c7eda7a495b4e6e7334d3890", apop_ts, &au, &why) ==
	    AUTH_FAIL);
	/* A crypt user cannot use digests at all. */
	CHECK(try(&cfg, AUTH_METHOD_APOP, "alice",
	    "c4c9334bac560ecc979e58001b3e22fb", apop_ts, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "no plaintext secret");
	CHECK(try(&cfg, AUTH_METHOD_APOP, "nobody-here",
	    "c4c9334bac560ecc979e58001b3e22fb", apop_ts, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "unknown user");
	CHECK(try(&cfg, AUTH_METHOD_APOP, "carol",
	    "c4c9334bac560ecc979e58001b3e22fb", apop_ts, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "disabled");
	/* Without a challenge the request is refused outright. */
	CHECK(try(&cfg, AUTH_METHOD_APOP, "mrose",
	    "c4c9334bac560ecc979e58001b3e22fb", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "bad request");
}

static void
test_chain_edges(void)
{
	struct config	 cfg = file_cfg(users_path);
	struct auth_user au;
	const char	*why;
	char		 big[AUTH_SECRET_MAX + 2], path[PATH_MAX];

	/* The root side re-checks what the pre-auth side sent. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "../alice", "alicepw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "bad request");
	CHECK(try(&cfg, AUTH_METHOD_USER, "", "alicepw", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK(try(&cfg, AUTH_METHOD_USER, NULL, "x", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK(try(&cfg, AUTH_METHOD_USER, "alice", NULL, NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "bad request");
	CHECK(try(&cfg, (enum auth_method)42, "alice", "alicepw", NULL, &au,
	    &why) == AUTH_FAIL);
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", big, NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "bad request");
	big[AUTH_SECRET_MAX] = '\0';
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", big, NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "bad password");

	/* No file: a temporary failure, never "unknown" to the next one. */
	snprintf(path, sizeof(path), "%s/missing", tmp);
	cfg.auth_file = path;
	cfg.auth[1] = AUTH_UNIX;
	cfg.nauth = 2;
	CHECK(try(&cfg, AUTH_METHOD_USER, "root", "x", NULL, &au, &why) ==
	    AUTH_TEMPFAIL);
	CHECK_STREQ(why, "users file unreadable");

	/* No backends configured: nobody is known. */
	cfg = file_cfg(users_path);
	cfg.nauth = 0;
	CHECK(try(&cfg, AUTH_METHOD_USER, "alice", "alicepw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "unknown user");
}

static void
test_plain_secrets(void)
{
	struct config	 cfg = file_cfg(users_path);
	const struct auth_backend *b;
	char		 path[PATH_MAX];

	CHECK(auth_has_plain_secrets(&cfg) == 1);
	snprintf(path, sizeof(path), "%s/crypt-only", tmp);
	write_file(path, "alice:%s:1:1\nbob:!\n", alice_hash);
	cfg.auth_file = path;
	CHECK(auth_has_plain_secrets(&cfg) == 0);
	(void)unlink(path);
	cfg.auth_file = users_path;
	cfg.auth[0] = AUTH_UNIX;
	CHECK(auth_has_plain_secrets(&cfg) == 0);
	cfg.auth[1] = AUTH_FILE;
	cfg.nauth = 2;
	CHECK(auth_has_plain_secrets(&cfg) == 1);

	CHECK((b = auth_backend(AUTH_FILE)) != NULL &&
	    check_streq(b->name, "file"));
#if WITH_AUTH_UNIX
	CHECK((b = auth_backend(AUTH_UNIX)) != NULL &&
	    check_streq(b->name, "unix"));
#else
	CHECK(auth_backend(AUTH_UNIX) == NULL);
#endif
#if WITH_AUTH_PAM
	CHECK((b = auth_backend(AUTH_PAM)) != NULL &&
	    check_streq(b->name, "pam"));
	CHECK(b->end != NULL);
#else
	CHECK(auth_backend(AUTH_PAM) == NULL);
#endif
	CHECK(auth_backend(AUTH_KINDS) == NULL);
}

/* Runs fn with stderr going to a file; returns what it printed. */
static int
capture(int (*fn)(const struct config *), const struct config *cfg,
    char *out, size_t len)
{
	char	 path[PATH_MAX];
	int	 fd, saved = -1, rv;
	ssize_t	 n;

	snprintf(path, sizeof(path), "%s/stderr", tmp);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (saved = dup(2)) == -1 || dup2(fd, 2) == -1)
		die("capture");
	rv = fn(cfg);
	if (dup2(saved, 2) == -1 || close(saved) == -1)
		die("capture");
	n = pread(fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	(void)unlink(path);
	return rv;
}

static int
has_line(const char *out, const char *want)
{
	char	 line[PATH_MAX + 200];

	snprintf(line, sizeof(line), "]: %s\n", want);
	return strstr(out, line) != NULL;
}

static void
test_config_check(void)
{
	const struct auth_backend *b = auth_backend(AUTH_FILE);
	struct config	 cfg = file_cfg(users_path);
	static char	 out[16384];
	char		 want[PATH_MAX + 200], path[PATH_MAX];
	int		 n;

	n = capture(b->config_check, &cfg, out, sizeof(out));
	/* dave's scheme, ivan's home, eve and frank without ids, alice twice. */
	CHECK(n == 5);
#define WANT(fmt, ...) do {						\
	snprintf(want, sizeof(want), fmt, __VA_ARGS__);			\
	CHECK(has_line(out, want));					\
	if (!has_line(out, want))					\
		fprintf(stderr, "  missing: %s\n", want);		\
} while (0)
	WANT("%s:6: unsupported password scheme", users_path);
	WANT("%s:8: no uid or gid, and no file-uid or file-gid: cannot log in",
	    users_path);
	WANT("%s:9: no uid or gid, and no file-uid or file-gid: cannot log in",
	    users_path);
	WANT("%s:10: duplicate user alice (line 3 is used)", users_path);
	WANT("%s:15: home must be empty or an absolute path", users_path);
	WANT("%s:7: note: uid 0 is refused at login", users_path);
	WANT("%s:13: note: unknown extra field quota ignored", users_path);
	CHECK(strstr(out, "tanstaaf") == NULL);
	CHECK(strstr(out, "bobpw") == NULL);

	cfg.file_uid = 100;
	cfg.file_gid = 100;
	cfg.allow_root = 1;
	n = capture(b->config_check, &cfg, out, sizeof(out));
	CHECK(n == 3);
	CHECK(strstr(out, "uid 0") == NULL);

	snprintf(path, sizeof(path), "%s/missing", tmp);
	cfg.auth_file = path;
	n = capture(b->config_check, &cfg, out, sizeof(out));
	CHECK(n == 1);
	WANT("%s: No such file or directory", path);

	/* A clean file, world-readable: a note only. */
	snprintf(path, sizeof(path), "%s/clean", tmp);
	write_file(path, "# ok\nalice:%s:1:1\nbob:{PLAIN}x:2:2::/h::"
	    "maildrop=mbox:/var/mail/bob\n", alice_hash);
	(void)chmod(path, 0644);
	n = capture(b->config_check, &cfg, out, sizeof(out));
	CHECK(n == 0);
	WANT("%s: note: readable by everyone", path);
	(void)chmod(path, 0602);
	n = capture(b->config_check, &cfg, out, sizeof(out));
	CHECK(n == 1);
	WANT("%s: writable by everyone", path);
	(void)unlink(path);
#undef WANT
}

/* --- timing: unknown users cost what known ones do --------------------- */

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median time of a failed login of `user`. */
static double
fail_time(const struct config *cfg, const char *user)
{
	struct auth_user au;
	const char	*why;
	double		 t[7], t0;
	size_t		 i;

	for (i = 0; i < 7; i++) {
		t0 = now();
		(void)try(cfg, AUTH_METHOD_USER, user, "wrong password", NULL,
		    &au, &why);
		t[i] = now() - t0;
	}
	qsort(t, 7, sizeof(t[0]), cmp_double);
	return t[3];
}

/* Loose bounds: they catch a missing dummy (100x), not noise. */
static int
similar(double a, double b)
{
	return a > 0 && b > 0 && a / b > 0.33 && a / b < 3;
}

static void
test_timing_file(void)
{
	struct config	 cfg = file_cfg(users_path);
	double		 real, unknown, disabled, bad, plain;

	real = fail_time(&cfg, "alice");
	unknown = fail_time(&cfg, "nobody-here");
	disabled = fail_time(&cfg, "carol");
	bad = fail_time(&cfg, "dave");
	plain = fail_time(&cfg, "bob");
	printf("file timing: real %.4f unknown %.4f disabled %.4f "
	    "malformed %.4f plain %.4f\n", real, unknown, disabled, bad,
	    plain);
	CHECK(similar(real, unknown));
	CHECK(similar(real, disabled));
	CHECK(similar(real, bad));
	CHECK(similar(real, plain));
}

#endif /* WITH_AUTH_FILE */

/* --- the unix backend with a real account (root only) ---------------- */

#if WITH_AUTH_FILE && WITH_AUTH_UNIX

static char	 unix_user[32];

static int run(const char *, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char	 cmd[1024];
	va_list	 ap;
	int	 st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
unix_cleanup(void)
{
	if (unix_user[0] != '\0')
		(void)run("userdel -f %s >/dev/null 2>&1", unix_user);
	unix_user[0] = '\0';
}

static int
unix_setup(void)
{
	char	 hash[CRYPT_OUTPUT_SIZE];
	FILE	*p;

	snprintf(unix_user, sizeof(unix_user), "p3dt%ld",
	    (long)getpid() % 100000);
	atexit(unix_cleanup);
	if (run("useradd -M -N -d /nonexistent -s /usr/sbin/nologin %s",
	    unix_user) != 0) {
		unix_user[0] = '\0';
		return -1;
	}
	make_hash(NULL, 0, "unixpw", hash, sizeof(hash));
	if ((p = popen("chpasswd -e", "w")) == NULL)
		return -1;
	fprintf(p, "%s:%s\n", unix_user, hash);
	return pclose(p) == 0 ? 0 : -1;
}

static void
test_unix(void)
{
	struct config	 cfg = file_cfg(users_path);
	struct auth_user au;
	struct passwd	*pw;
	const char	*why;
	double		 real, unknown;

	if (geteuid() != 0) {
		printf("SKIP unix backend: not root\n");
		return;
	}
	if (unix_setup() == -1) {
		CHECK(!"unix_setup");
		return;
	}
	CHECK((pw = getpwnam(unix_user)) != NULL);
	cfg.auth[0] = AUTH_UNIX;

	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK_STREQ(au.name, unix_user);
	CHECK_STREQ(au.backend, "unix");
	CHECK(au.system_user == 1);
	CHECK(pw != NULL && au.uid == pw->pw_uid && au.gid == pw->pw_gid);
	CHECK_STREQ(au.home, "/nonexistent");
	CHECK_STREQ(au.maildrop, "");
	CHECK(try(&cfg, AUTH_METHOD_PLAIN, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpW", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "bad password");
	CHECK(try(&cfg, AUTH_METHOD_APOP, unix_user,
	    "c4c9334bac560ecc979e58001b3e22fb", "<1.2@x>", &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "no plaintext secret");
	CHECK(try(&cfg, AUTH_METHOD_USER, "p3dt-no-such-user", "x", NULL,
	    &au, &why) == AUTH_FAIL);
	CHECK_STREQ(why, "unknown user");

	/* Timing: unknown user vs wrong password (dummy = default method). */
	real = fail_time(&cfg, unix_user);
	unknown = fail_time(&cfg, "p3dt-no-such-user");
	printf("unix timing: real %.4f unknown %.4f\n", real, unknown);
	CHECK(similar(real, unknown));

	/* Chains: the file does not know the user, unix does. */
	cfg.auth[0] = AUTH_FILE;
	cfg.auth[1] = AUTH_UNIX;
	cfg.nauth = 2;
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_OK);
	CHECK_STREQ(au.backend, "unix");
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", "bobpw", NULL, &au, &why) ==
	    AUTH_OK);
	CHECK_STREQ(au.backend, "file");
	/* A wrong password in the first backend is final. */
	cfg.auth[0] = AUTH_UNIX;
	cfg.auth[1] = AUTH_FILE;
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "bobpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "bad password");
	CHECK(try(&cfg, AUTH_METHOD_USER, "bob", "bobpw", NULL, &au, &why) ==
	    AUTH_OK);
	CHECK_STREQ(au.backend, "file");
	cfg.nauth = 1;

	/* Locked: the right password does not help. */
	CHECK(run("usermod -L %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "locked");
	real = fail_time(&cfg, unix_user);
	unknown = fail_time(&cfg, "p3dt-no-such-user");
	CHECK(similar(real, unknown));
	CHECK(run("usermod -U %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_OK);

	/* Account expired (1970-01-02). */
	CHECK(run("chage -E 1 %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "expired");
	CHECK(run("chage -E -1 %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_OK);

	/* Must change the password (passwd -e). */
	CHECK(run("chage -d 0 %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "expired");
	/* Password too old, and too old plus inactive. */
	CHECK(run("chage -d 2000-01-01 -M 30 -I -1 %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "expired");
	CHECK(run("chage -I 5 %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_FAIL);
	CHECK_STREQ(why, "expired");
	CHECK(run("chage -d 2000-01-01 -M 99999 -I -1 %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_OK);

	/* An empty hash would let anyone in: refused. */
	CHECK(run("usermod -p '' %s", unix_user) == 0);
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "locked");
	CHECK(try(&cfg, AUTH_METHOD_USER, unix_user, "unixpw", NULL, &au,
	    &why) == AUTH_FAIL);

	/* uid 0 through the unix backend: refused by the chain. */
	CHECK(try(&cfg, AUTH_METHOD_USER, "root", "x", NULL, &au, &why) ==
	    AUTH_FAIL);
	CHECK(!check_streq(why, "unknown user"));

#if WITH_AUTH_PAM
	/* PAM: only what needs no PAM stack; the rest is integration. */
	cfg.auth[0] = AUTH_PAM;
	cfg.pam_service = "pop3d-unit-test-none";
	CHECK(try(&cfg, AUTH_METHOD_USER, "p3dt-no-such-user", "x", NULL,
	    &au, &why) == AUTH_FAIL);
	CHECK_STREQ(why, "unknown user");
	CHECK(try(&cfg, AUTH_METHOD_CRAM_MD5, unix_user,
	    "c4c9334bac560ecc979e58001b3e22fb", "<1.2@x>", &au, &why) ==
	    AUTH_FAIL);
	CHECK_STREQ(why, "no plaintext secret");
#endif
	unix_cleanup();
	CHECK(getpwnam("p3dt-no-such-user") == NULL);
}

#endif /* WITH_AUTH_FILE && WITH_AUTH_UNIX */

static void
cleanup_tmp(void)
{
#if WITH_AUTH_FILE
	(void)unlink(users_path);
#endif
	(void)rmdir(tmp);
}

int
main(void)
{
	const char	*t = getenv("TMPDIR");

	log_init(1);
	snprintf(tmp, sizeof(tmp), "%s/test_auth.XXXXXX",
	    t != NULL && t[0] == '/' ? t : "/tmp");
	if (mkdtemp(tmp) == NULL)
		die("mkdtemp");
	atexit(cleanup_tmp);

	test_crypt_match();
	test_plain_match();
	test_digest_match();
#if WITH_AUTH_FILE
	write_users();
	test_chain_file();
	test_chain_digest();
	test_chain_edges();
	test_plain_secrets();
	test_config_check();
	test_timing_file();
#endif
#if WITH_AUTH_FILE && WITH_AUTH_UNIX
	test_unix();
#endif
	CHECK_DONE();
}
