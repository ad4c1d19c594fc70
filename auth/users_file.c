/*
 * The virtual users file: Dovecot's passwd-file layout (pop3d.conf(5) "VIRTUAL
 * USERS FILE").  users_file_parse() decides everything about one line and
 * touches nothing but that line; the reader below splits a file into lines
 * without stdio so that no copy of a secret outlives users_file_close().
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"
#include "names.h"
#include "users_file.h"
#include "xio.h"

/* uid_t and gid_t are 32 bits; (uid_t)-1 means "no change" to setresuid. */
#define USERS_ID_MAX	4294967294LL

enum users_field {
	F_NAME, F_PASSWORD, F_UID, F_GID, F_GECOS, F_HOME, F_SHELL, F_EXTRA,
	F_COUNT
};

/*
 * Dovecot password scheme prefixes that crypt(3) or a plain compare can
 * check.  `expect` is how a hash of that scheme starts; a mismatch still
 * works (crypt(3) goes by the hash) but earns a note.
 */
static const struct users_scheme {
	const char	*name;
	enum users_pw	 pw;
	const char	*expect;
} users_schemes[] = {
	{ "CRYPT",		USERS_PW_CRYPT,	NULL },
	{ "SHA512-CRYPT",	USERS_PW_CRYPT,	"$6$" },
	{ "SHA256-CRYPT",	USERS_PW_CRYPT,	"$5$" },
	{ "BLF-CRYPT",		USERS_PW_CRYPT,	"$2" },
	{ "MD5-CRYPT",		USERS_PW_CRYPT,	"$1$" },
	{ "PLAIN",		USERS_PW_PLAIN,	NULL },
	{ "CLEARTEXT",		USERS_PW_PLAIN,	NULL },	/* Dovecot alias */
	{ "CLEAR",		USERS_PW_PLAIN,	NULL },	/* Dovecot alias */
};

enum users_extra_kind {
	EXTRA_MAILDROP,		/* ours: FORMAT:PATH */
	EXTRA_DOVECOT_MAIL,	/* a Dovecot mail location */
	EXTRA_NOLOGIN,		/* Dovecot: the password never logs in */
	EXTRA_REFUSE,		/* a restriction we cannot enforce */
};

/*
 * Extra fields we act on.  `mail` is what a Dovecot passwd-file used as
 * userdb calls `userdb_mail`.  Dovecot's allow_nets narrows who may log
 * in; ignoring it would widen access, so such an entry is refused.
 */
static const struct users_extra_key {
	const char		*key;
	enum users_extra_kind	 kind;
} users_extra_keys[] = {
	{ "maildrop",		EXTRA_MAILDROP },
	{ "userdb_mail",	EXTRA_DOVECOT_MAIL },
	{ "mail",		EXTRA_DOVECOT_MAIL },
	{ "nologin",		EXTRA_NOLOGIN },
	{ "allow_nets",		EXTRA_REFUSE },
	{ "allow_real_nets",	EXTRA_REFUSE },
};

static int
users_blank(const char *line, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (line[i] == ' ' || line[i] == '\t')
			continue;
		return line[i] == '#';
	}
	return 1;
}

/* Control octets could forge log lines or environment values. */
static int
users_has_control(const char *line, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 1;
	}
	return 0;
}

/* Omitted trailing fields point at the final NUL: they are empty. */
static void
users_split(char *line, size_t len, char *f[F_COUNT])
{
	char	*p = line, *c;
	int	 i;

	f[F_NAME] = line;
	for (i = 1; i < F_COUNT; i++) {
		if (p == NULL || (c = strchr(p, ':')) == NULL) {
			p = NULL;
			f[i] = line + len;
			continue;
		}
		*c = '\0';
		p = c + 1;
		f[i] = p;
		/* The extra field is the rest of the line, colons and all. */
		if (i == F_EXTRA)
			break;
	}
}

static int
users_is_plain_scheme(const struct users_scheme *sc)
{
	return sc != NULL && sc->pw == USERS_PW_PLAIN;
}

static const char *
users_password(char *s, struct users_entry *e)
{
	const struct users_scheme *sc = NULL;
	size_t	 i, n;
	char	*brace;

	if (s[0] == '{') {
		if ((brace = strchr(s, '}')) == NULL)
			return "unterminated {SCHEME} in password";
		n = (size_t)(brace - s - 1);
		for (i = 0; i < sizeof(users_schemes) / sizeof(*sc); i++)
			if (strlen(users_schemes[i].name) == n &&
			    strncasecmp(s + 1, users_schemes[i].name, n) == 0)
				sc = &users_schemes[i];
		if (sc == NULL)
			return "unsupported password scheme";
		s = brace + 1;
	}
	e->secret = s;
	if (users_is_plain_scheme(sc)) {
		/* An empty password is a disabled account, never a match. */
		e->pw = s[0] == '\0' ? USERS_PW_DISABLED : USERS_PW_PLAIN;
		return NULL;
	}
	if (s[0] == '\0' || s[0] == '!' || s[0] == '*') {
		e->pw = USERS_PW_DISABLED;
		return NULL;
	}
	switch (crypt_checksalt(s)) {
	case CRYPT_SALT_OK:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
		e->notes |= USERS_NOTE_LEGACY;
		break;
	default:
		return "password is not a hash crypt(3) can check";
	}
	/*
	 * Traditional DES and BSDi hashes have a fixed length; anything else
	 * without '$' is a plaintext that DES would take for a salt.
	 */
	n = strlen(s);
	if (s[0] != '$' && !(s[0] == '_' ? n == 20 : n == 13))
		return "password is not a complete crypt(3) hash";
	if (sc != NULL && sc->expect != NULL &&
	    strncmp(s, sc->expect, strlen(sc->expect)) != 0)
		e->notes |= USERS_NOTE_MISMATCH;
	e->pw = USERS_PW_CRYPT;
	return NULL;
}

/* Strict decimal: digits only (strtonum alone would take "+1" and " 1"). */
static const char *
users_id(const char *s, long long *out)
{
	const char	*errstr;
	size_t		 i;

	*out = -1;
	if (s[0] == '\0')
		return NULL;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return "is not a number";
	*out = strtonum(s, 0, USERS_ID_MAX, &errstr);
	if (errstr != NULL) {
		*out = -1;
		return "is out of range";
	}
	return NULL;
}

static const char *
users_maildrop(const char *v)
{
	const char	*colon = strchr(v, ':');
	size_t		 n;

	if (colon == NULL)
		return "maildrop must be FORMAT:PATH";
	n = (size_t)(colon - v);
	if (!((n == 4 && strncmp(v, "mbox", 4) == 0) ||
	    (n == 7 && strncmp(v, "maildir", 7) == 0)))
		return "maildrop format must be mbox or maildir";
	if (colon[1] == '\0')
		return "maildrop path is empty";
	if (strlen(v) >= AUTH_MAILDROP_MAX)
		return "maildrop is too long";
	return NULL;
}

/*
 * A Dovecot mail location, "FORMAT:PATH[:KEY=VALUE]...", becomes our
 * FORMAT:PATH in place: maildir keeps its path; mbox serves its INBOX=
 * file when one is named, since that is the mailbox POP3 sees.
 * Dovecot's %n (the local part) is our %l; %u, %d, %h and %% agree.
 */
static const char *
users_dovecot_mail(char *v, char **out)
{
	char	*path, *p, *inbox = NULL;
	int	 mbox;

	if ((path = strchr(v, ':')) == NULL)
		return "mail location needs a maildir: or mbox: prefix";
	*path++ = '\0';
	if (strcmp(v, "mbox") == 0)
		mbox = 1;
	else if (strcmp(v, "maildir") == 0)
		mbox = 0;
	else
		return "mail location format must be mbox or maildir";
	v[strlen(v)] = ':';
	for (p = strchr(path, ':'); p != NULL; p = strchr(p + 1, ':')) {
		*p = '\0';
		if (strncmp(p + 1, "INBOX=", 6) == 0)
			inbox = p + 7;
	}
	if (mbox && inbox != NULL) {
		/* Overwrites "NBOX=": five octets, just what "mbox:" needs. */
		memcpy(inbox - 5, "mbox:", 5);
		v = inbox - 5;
	}
	for (p = v; *p != '\0'; p++) {
		if (*p != '%' || p[1] == '\0')
			continue;
		if (p[1] == 'n')
			p[1] = 'l';
		p++;
	}
	*out = v;
	return users_maildrop(v);
}

static const char *
users_extra(char *s, struct users_entry *e)
{
	const struct users_extra_key *k;
	char		*tok, *val, *last, *own = NULL, *alias = NULL;
	const char	*err;
	size_t		 i;
	int		 nologin = 0;

	for (tok = strtok_r(s, " \t", &last); tok != NULL;
	    tok = strtok_r(NULL, " \t", &last)) {
		if ((val = strchr(tok, '=')) != NULL)
			*val++ = '\0';
		k = NULL;
		for (i = 0; i < sizeof(users_extra_keys) / sizeof(*k); i++)
			if (strcmp(tok, users_extra_keys[i].key) == 0)
				k = &users_extra_keys[i];
		if (k == NULL) {
			e->notes |= USERS_NOTE_UNKNOWN;
			if (e->unknown == NULL)
				e->unknown = tok;
			continue;
		}
		switch (k->kind) {
		case EXTRA_MAILDROP:
			if (val == NULL)
				return "maildrop needs a value";
			if ((err = users_maildrop(val)) != NULL)
				return err;
			own = val;
			break;
		case EXTRA_DOVECOT_MAIL:
			if (val == NULL)
				return "mail location needs a value";
			if ((err = users_dovecot_mail(val, &alias)) != NULL)
				return err;
			break;
		case EXTRA_NOLOGIN:
			nologin = 1;
			break;
		case EXTRA_REFUSE:
			return "allow_nets is not supported: entry refused";
		}
	}
	/* Our own key wins over the Dovecot alias. */
	e->maildrop = own != NULL ? own : alias;
	if (nologin)
		e->pw = USERS_PW_DISABLED;
	return NULL;
}

static const char *
users_fields(char *f[F_COUNT], struct users_entry *e)
{
	const char	*err;

	if ((err = users_password(f[F_PASSWORD], e)) != NULL)
		return err;
	if (users_id(f[F_UID], &e->uid) != NULL)
		return "bad uid";
	if (users_id(f[F_GID], &e->gid) != NULL)
		return "bad gid";
	e->home = f[F_HOME];
	if (e->home[0] != '\0' && e->home[0] != '/')
		return "home must be empty or an absolute path";
	if (strlen(e->home) >= PATH_MAX)
		return "home is too long";
	/* gecos and shell: kept for compatibility, ignored. */
	return users_extra(f[F_EXTRA], e);
}

enum users_line
users_file_parse(char *line, size_t len, struct users_entry *e)
{
	char		*f[F_COUNT], *colon;
	size_t		 nlen;

	memset(e, 0, sizeof(*e));
	e->uid = e->gid = -1;
	e->home = "";
	if (users_blank(line, len))
		return USERS_LINE_SKIP;
	colon = memchr(line, ':', len);
	nlen = colon != NULL ? (size_t)(colon - line) : len;
	if (!name_valid(line, nlen)) {
		e->error = "bad user name";
		return USERS_LINE_BAD;
	}
	if (len > USERS_LINE_MAX)
		e->error = "line too long";
	else if (memchr(line, '\0', len) != NULL ||
	    users_has_control(line, len))
		e->error = "control character in line";
	/* Even a malformed line names its user, who is then refused. */
	e->name = line;
	if (e->error != NULL) {
		line[nlen] = '\0';
		return USERS_LINE_BAD;
	}
	users_split(line, len, f);
	if ((e->error = users_fields(f, e)) != NULL) {
		e->pw = USERS_PW_DISABLED;
		e->secret = NULL;
		e->maildrop = NULL;
		return USERS_LINE_BAD;
	}
	return USERS_LINE_ENTRY;
}

int
users_file_open(struct users_reader *r, const char *path)
{
	struct stat	 st;
	int		 saved;

	r->lineno = 0;
	r->start = r->end = 0;
	r->eof = r->skipping = 0;
	/* O_NONBLOCK: a FIFO put in its place must not hang the login. */
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (r->fd == -1)
		return -1;
	if (fstat(r->fd, &st) == -1)
		saved = errno;
	else if (S_ISREG(st.st_mode))
		return 0;
	else
		saved = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	(void)close(r->fd);
	r->fd = -1;
	errno = saved;
	return -1;
}

static int
users_reader_line(struct users_reader *r, size_t start, size_t len,
    int truncated, char **line, size_t *lenp)
{
	r->lineno++;
	if (!truncated && len > 0 && r->buf[start + len - 1] == '\r')
		len--;
	r->buf[start + len] = '\0';
	*line = r->buf + start;
	*lenp = len;
	return 1;
}

int
users_file_next(struct users_reader *r, char **line, size_t *len)
{
	const size_t	 cap = sizeof(r->buf) - 1;	/* room for a NUL */
	char		*nl;
	size_t		 s;
	ssize_t		 n;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			s = r->start;
			r->start = (size_t)(nl - r->buf) + 1;
			if (r->skipping) {
				r->skipping = 0;
				continue;
			}
			return users_reader_line(r, s,
			    (size_t)(nl - r->buf) - s, 0, line, len);
		}
		if (r->skipping)
			r->start = r->end = 0;
		if (r->eof) {
			if (r->start == r->end)
				return 0;
			s = r->start;
			r->start = r->end;
			return users_reader_line(r, s, r->end - s, 0, line,
			    len);
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->end == cap) {
			/* No LF after a longest line, its CR and LF: too long. */
			r->skipping = 1;
			r->start = r->end;
			return users_reader_line(r, 0, USERS_LINE_MAX + 1, 1,
			    line, len);
		}
		if ((n = read_full(r->fd, r->buf + r->end, cap - r->end)) == -1)
			return -1;
		if ((size_t)n < cap - r->end)
			r->eof = 1;
		r->end += (size_t)n;
	}
}

void
users_file_close(struct users_reader *r)
{
	if (r->fd != -1)
		(void)close(r->fd);
	r->fd = -1;
	explicit_bzero(r->buf, sizeof(r->buf));
}
