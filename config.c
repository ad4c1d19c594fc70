/*
 * The configuration: one table of keys (pop3d.conf(5)).  Every
 * value, the compiled defaults included, goes through the same parser, so
 * a default can never be something the parser would refuse.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "config.h"
#include "log.h"

#define CONFIG_LINE_MAX	4096

enum key_type { K_STR, K_OPTSTR, K_BOOL, K_NUM, K_ID, K_AUTH, K_SASL,
    K_TLS, K_FAILURE, K_EXPIRE, K_ARGV, K_MAILDROP };

struct key {
	const char	*name;
	enum key_type	 type;
	size_t		 off;		/* offsetof(struct config, field) */
	long long	 min, max;	/* K_NUM bounds */
	const char	*def;		/* compiled default, parsed like a file value */
	/*
	 * 0 while the feature behind the key is not built yet: the default
	 * is accepted, anything else is refused with "not supported yet"
	 * rather than silently ignored.
	 */
	int		 ready;
};

#if WITH_AUTH_PAM
#define DEFAULT_AUTH	"pam"
#else
#define DEFAULT_AUTH	"unix"
#endif

/* pop3d.conf(5): zero configuration serves /var/mail/USER, the Unix way. */
#if WITH_MAILDROP_MBOX
#define DEFAULT_MAILDROP	"mbox:/var/mail/%u"
#else
#define DEFAULT_MAILDROP	"maildir:~/Maildir"
#endif

#define F(f)	offsetof(struct config, f)
static const struct key keys[] = {
	{ "auth",		K_AUTH,   F(auth),		0, 0, DEFAULT_AUTH, 1 },
	{ "auth-file",		K_STR,    F(auth_file),		0, 0, SYSCONFDIR "/pop3d/users", 1 },
	{ "file-uid",		K_ID,     F(file_uid),		0, 0, "", 1 },
	{ "file-gid",		K_ID,     F(file_gid),		0, 0, "", 1 },
	{ "maildrop",		K_MAILDROP, F(maildrop),	0, 0, DEFAULT_MAILDROP, 1 },
	{ "onlogin",		K_ARGV,   F(onlogin),		0, 0, "", 1 },
	{ "onlogin-wait",	K_BOOL,   F(onlogin_wait),	0, 0, "yes", 1 },
	{ "onlogin-timeout",	K_NUM,    F(onlogin_timeout),	1, 86400, "30", 1 },
	{ "onlogin-user",	K_OPTSTR, F(onlogin_user),	0, 0, "", 1 },
	{ "onlogin-failure",	K_FAILURE, F(onlogin_failure),	0, 0, "ignore", 1 },
	/* RFC 1939 §3: an autologout timer of at least 10 minutes. */
	{ "timeout",		K_NUM,    F(timeout),		1, 86400, "600", 1 },
	{ "greeting",		K_STR,    F(greeting),		0, 0, "POP3 server ready", 1 },
	{ "apop",		K_BOOL,   F(apop),		0, 0, "no", 1 },
	{ "sasl",		K_SASL,   F(sasl),		0, 0, "PLAIN", 1 },
	{ "tls",		K_TLS,    F(tls),		0, 0, "none", 0 },
	{ "tls-cert",		K_OPTSTR, F(tls_cert),		0, 0, "", 0 },
	{ "tls-key",		K_OPTSTR, F(tls_key),		0, 0, "", 0 },
	{ "plaintext-auth",	K_BOOL,   F(plaintext_auth),	0, 0, "yes", 0 },
	{ "proxy-from",		K_OPTSTR, F(proxy_from),	0, 0, "", 0 },
	{ "login-delay",	K_NUM,    F(login_delay),	0, 86400 * 365, "0", 1 },
	{ "expire",		K_EXPIRE, F(expire),		0, 0, "", 1 },
	{ "pam-service",	K_STR,    F(pam_service),	0, 0, "pop3d", 1 },
	{ "privsep-user",	K_STR,    F(privsep_user),	0, 0, "pop3d", 1 },
	{ "privsep-dir",	K_STR,    F(privsep_dir),	0, 0, "/run/pop3d/empty", 1 },
	/*
	 * pop3d's own per-maildrop state (statedir.c).  Empty: the mode's
	 * default, /var/lib/pop3d as root, ~/.local/state/pop3d rootless.
	 */
	{ "state-dir",		K_OPTSTR, F(state_dir),		0, 0, "", 1 },
	{ "max-failures",	K_NUM,    F(max_failures),	1, 100, "3", 1 },
	{ "fail-delay",		K_NUM,    F(fail_delay),	0, 60, "1", 1 },
	/* Refuse uid 0 logins unless asked (pop3d.conf(5) allow-root). */
	{ "allow-root",		K_BOOL,   F(allow_root),	0, 0, "no", 1 },
};
#undef F

static const char *const auth_names[AUTH_KINDS] = { "file", "unix", "pam" };

const char *
auth_kind_name(enum auth_kind k)
{
	return k < AUTH_KINDS ? auth_names[k] : "?";
}

static const struct key *
config_key(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static const char *
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return "expected yes or no";
	return NULL;
}

static const char *
parse_num(const char *v, long long min, long long max, long long *out)
{
	const char	*errstr;
	long long	 n;

	/* strtonum accepts a sign and leading blanks: refuse them first. */
	if (!isdigit((unsigned char)v[0]))
		return "expected a number";
	n = strtonum(v, min, max, &errstr);
	if (errstr != NULL)
		return "number out of range";
	*out = n;
	return NULL;
}

/* Splits a list on commas and/or blanks, calling fn for each word. */
static const char *
parse_words(const char *v, const char *(*fn)(const char *, size_t, void *),
    void *arg)
{
	const char	*err;
	size_t		 n;

	for (;;) {
		v += strspn(v, ", \t");
		if (*v == '\0')
			return NULL;
		n = strcspn(v, ", \t");
		if ((err = fn(v, n, arg)) != NULL)
			return err;
		v += n;
	}
}

static const char *
add_auth(const char *w, size_t n, void *arg)
{
	struct config	*c = arg;
	size_t		 i;
	int		 k;

	for (k = 0; k < AUTH_KINDS; k++)
		if (strlen(auth_names[k]) == n &&
		    strncmp(auth_names[k], w, n) == 0)
			break;
	if (k == AUTH_KINDS)
		return "unknown auth backend (file, unix, pam)";
	for (i = 0; i < c->nauth; i++)
		if (c->auth[i] == (enum auth_kind)k)
			return "auth backend listed twice";
	c->auth[c->nauth++] = (enum auth_kind)k;
	return NULL;
}

static const char *
add_sasl(const char *w, size_t n, void *arg)
{
	int	*bits = arg;

	if (n == 5 && strncasecmp(w, "PLAIN", 5) == 0)
		*bits |= SASL_PLAIN;
	else if (n == 8 && strncasecmp(w, "CRAM-MD5", 8) == 0)
		*bits |= SASL_CRAM_MD5;
	else
		return "unknown SASL mechanism (PLAIN, CRAM-MD5)";
	return NULL;
}

/* A value that does not parse leaves the key as it was. */
static const char *
parse_auth(struct config *c, const char *v)
{
	struct config	 tmp;
	const char	*err;

	tmp.nauth = 0;
	if ((err = parse_words(v, add_auth, &tmp)) != NULL)
		return err;
	if (tmp.nauth == 0)
		return "no auth backend named";
	memcpy(c->auth, tmp.auth, sizeof(c->auth));
	c->nauth = tmp.nauth;
	return NULL;
}

/* "" not advertised (-2), "never" (-1, RFC 2449 §6.7), or days. */
static const char *
parse_expire(const char *v, long long *out)
{
	if (*v == '\0')
		*out = -2;
	else if (strcmp(v, "never") == 0)
		*out = -1;
	else
		return parse_num(v, 0, 100000, out);
	return NULL;
}

static const char *(*maildrop_check)(const char *);

void
config_set_maildrop_check(const char *(*fn)(const char *))
{
	maildrop_check = fn;
}

static const char *
check_maildrop(const char *v)
{
	return maildrop_check != NULL ? maildrop_check(v) : NULL;
}

static const char *
parse_enum(const char *v, const char *const *names, int n, int *out)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return NULL;
		}
	return "unknown value";
}

static const char *
set_string(char **slot, const char *v, int optional)
{
	char	*copy;

	if (*v == '\0' && !optional)
		return "value must not be empty";
	if (*v == '\0') {
		free(*slot);
		*slot = NULL;
		return NULL;
	}
	if ((copy = strdup(v)) == NULL)
		return "out of memory";
	free(*slot);
	*slot = copy;
	return NULL;
}

static const char *
config_parse_value(struct config *c, const struct key *k, const char *v)
{
	static const char *const tls_names[] = { "none", "starttls", "implicit" };
	static const char *const fail_names[] = { "ignore", "deny" };
	void		*slot = (char *)c + k->off;
	const char	*err;
	int		 e = 0;

	switch (k->type) {
	case K_STR:
		return set_string(slot, v, 0);
	case K_OPTSTR:
	case K_ARGV:
		return set_string(slot, v, 1);
	case K_BOOL:
		return parse_bool(v, slot);
	case K_NUM:
		return parse_num(v, k->min, k->max, slot);
	case K_ID:
		if (*v == '\0') {
			*(long long *)slot = -1;
			return NULL;
		}
		return parse_num(v, 0, 4294967294LL, slot);
	case K_AUTH:
		return parse_auth(c, v);
	case K_SASL:
		e = 0;
		if ((err = parse_words(v, add_sasl, &e)) == NULL)
			c->sasl = e;
		return err;
	case K_TLS:
		err = parse_enum(v, tls_names, 3, &e);
		c->tls = (enum tls_mode)e;
		return err;
	case K_FAILURE:
		err = parse_enum(v, fail_names, 2, &e);
		c->onlogin_failure = (enum onlogin_failure)e;
		return err;
	case K_EXPIRE:
		return parse_expire(v, &c->expire);
	case K_MAILDROP:
		if ((err = check_maildrop(v)) != NULL)
			return err;
		return set_string(slot, v, 0);
	}
	return "internal error";
}

const char *
config_set(struct config *c, const char *name, const char *v)
{
	const struct key *k = config_key(name);

	if (k == NULL)
		return "unknown key";
	if (!k->ready && strcmp(v, k->def) != 0)
		return "not supported yet";
	return config_parse_value(c, k, v);
}

void
config_defaults(struct config *c)
{
	size_t	 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (config_parse_value(c, &keys[i], keys[i].def) != NULL)
			fatalx("%s: bad compiled default for %s", __func__,
			    keys[i].name);
}

void
config_free(struct config *c)
{
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char **slot = (char **)((char *)c + keys[i].off);

		if (keys[i].type == K_STR || keys[i].type == K_OPTSTR ||
		    keys[i].type == K_ARGV || keys[i].type == K_MAILDROP) {
			free(*slot);
			*slot = NULL;
		}
	}
}

static char *
trim(char *s)
{
	char	*end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One "key = value" line; returns NULL or an error message. */
static const char *
config_line(struct config *c, char *line)
{
	char	*eq, *key, *val, *hash;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	key = trim(line);
	if (*key == '\0')
		return NULL;
	if ((eq = strchr(key, '=')) == NULL)
		return "expected key = value";
	*eq = '\0';
	key = trim(key);
	val = trim(eq + 1);
	if (*key == '\0')
		return "missing key before '='";
	return config_set(c, key, val);
}

static int
config_file(struct config *c, const char *file, int must_exist)
{
	char	 line[CONFIG_LINE_MAX];
	FILE	*fp;
	int	 problems = 0;
	long	 lineno = 0;
	const char *err;

	if ((fp = fopen(file, "re")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		log_warn("%s", file);
		return 1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			int ch;

			while ((ch = getc(fp)) != EOF && ch != '\n')
				;
			log_warnx("%s:%ld: line too long", file, lineno);
			problems++;
			continue;
		}
		if ((err = config_line(c, line)) != NULL) {
			log_warnx("%s:%ld: %s", file, lineno, err);
			problems++;
		}
	}
	if (ferror(fp)) {
		log_warn("%s", file);
		problems++;
	}
	fclose(fp);
	return problems;
}

int
config_load(struct config *c, const char *file, int must_exist,
    char *const *overrides, size_t noverrides)
{
	int	 problems;
	size_t	 i;

	problems = config_file(c, file, must_exist);
	for (i = 0; i < noverrides; i++) {
		char		 buf[CONFIG_LINE_MAX];
		const char	*err = NULL;
		char		*eq;

		if (strlcpy(buf, overrides[i], sizeof(buf)) >= sizeof(buf))
			err = "too long";
		else if ((eq = strchr(buf, '=')) == NULL)
			err = "expected KEY=VALUE";
		else {
			*eq = '\0';
			err = config_set(c, buf, eq + 1);
		}
		if (err != NULL) {
			char	 esc[256];

			log_warnx("-o %s: %s", log_escape(overrides[i],
			    strlen(overrides[i]), esc, sizeof(esc)), err);
			problems++;
		}
	}
	return problems;
}

int
config_check(const struct config *c)
{
	int	 problems = 0;

	if (c->privsep_dir[0] != '/') {
		log_warnx("privsep-dir: must be an absolute path");
		problems++;
	}
	if (c->state_dir != NULL && c->state_dir[0] != '/') {
		log_warnx("state-dir: must be an absolute path");
		problems++;
	}
	return problems;
}
