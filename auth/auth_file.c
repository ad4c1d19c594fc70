/*
 * auth = file: the virtual users file (pop3d.conf(5) "VIRTUAL USERS FILE"),
 * read afresh at each check, so that an edit counts at the next login and no
 * cache can go stale.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "auth_backends.h"
#include "config.h"
#include "log.h"
#include "users_file.h"

#define AUTH_FILE_ID_MAX	((long long)UINT32_MAX - 1)
/* Compared against when nothing real is; never a password of anyone. */
#define AUTH_FILE_DUMMY_SECRET	"pop3d dummy secret"

enum auth_file_state { FOUND_NONE, FOUND_ENTRY, FOUND_BAD };

/* What the first line naming the user says: at login the first wins. */
struct auth_file_found {
	enum auth_file_state state;
	enum users_pw	 pw;
	long long	 uid;
	long long	 gid;
	char		 secret[USERS_LINE_MAX + 1];
	char		 home[PATH_MAX];
	char		 maildrop[AUTH_MAILDROP_MAX];
};

struct auth_file_scan {
	const char	*user;		/* NULL: only gather */
	struct auth_file_found found;
	int		 plain;		/* the file has a {PLAIN} entry */
	char		 first_ok[CRYPT_OUTPUT_SIZE];
	char		 first_legacy[CRYPT_OUTPUT_SIZE];
};

/*
 * Unknown users cost what known ones do: a check that finds no usable entry
 * costs what a real one does.  The first good hash of the file serves as
 * setting (crypt(3) reads only its setting part: same method, same cost as
 * real users); a file of {PLAIN} secrets only gets a plain compare; a file
 * with neither gets the system default.  Made once per process.
 */
enum auth_file_dummy_kind {
	DUMMY_UNSET, DUMMY_CRYPT, DUMMY_PLAIN, DUMMY_DEFAULT
};

static struct {
	enum auth_file_dummy_kind kind;
	char		 setting[CRYPT_OUTPUT_SIZE];
} auth_file_dummy_cache;

static void
auth_file_keep(struct auth_file_found *f, enum users_line kind,
    const struct users_entry *e)
{
	if (kind != USERS_LINE_ENTRY) {
		f->state = FOUND_BAD;
		return;
	}
	/* The parser bounds every field, so nothing here truncates. */
	f->state = FOUND_ENTRY;
	f->pw = e->pw;
	f->uid = e->uid;
	f->gid = e->gid;
	if (e->secret != NULL)
		strlcpy(f->secret, e->secret, sizeof(f->secret));
	strlcpy(f->home, e->home, sizeof(f->home));
	if (e->maildrop != NULL)
		strlcpy(f->maildrop, e->maildrop, sizeof(f->maildrop));
}

static void
auth_file_gather(struct auth_file_scan *sc, const struct users_entry *e)
{
	char	*dst;

	if (e->pw == USERS_PW_PLAIN)
		sc->plain = 1;
	if (e->pw != USERS_PW_CRYPT || strlen(e->secret) >= CRYPT_OUTPUT_SIZE)
		return;
	dst = e->notes & USERS_NOTE_LEGACY ? sc->first_legacy : sc->first_ok;
	if (dst[0] == '\0')
		strlcpy(dst, e->secret, CRYPT_OUTPUT_SIZE);
}

/* Reads the whole file, whatever it finds early: 0, or -1 (logged). */
static int
auth_file_scan(const char *path, struct auth_file_scan *sc)
{
	struct users_reader r;
	struct users_entry e;
	enum users_line	 kind;
	char		*line;
	size_t		 len;
	int		 rv;

	if (path == NULL) {
		log_warnx("auth-file is not set");
		return -1;
	}
	if (users_file_open(&r, path) == -1) {
		log_warn("%s", path);
		return -1;
	}
	while ((rv = users_file_next(&r, &line, &len)) == 1) {
		kind = users_file_parse(line, len, &e);
		if (kind == USERS_LINE_ENTRY)
			auth_file_gather(sc, &e);
		if (kind != USERS_LINE_SKIP && sc->user != NULL &&
		    sc->found.state == FOUND_NONE && e.name != NULL &&
		    strcmp(e.name, sc->user) == 0)
			auth_file_keep(&sc->found, kind, &e);
	}
	if (rv == -1)
		log_warn("%s", path);
	users_file_close(&r);
	return rv;
}

static void
auth_file_set_dummy(const struct auth_file_scan *sc)
{
	const char	*s = NULL;

	if (auth_file_dummy_cache.kind != DUMMY_UNSET)
		return;
	/* A legacy hash only when there is no better one: it is cheap. */
	if (sc->first_ok[0] != '\0')
		s = sc->first_ok;
	else if (sc->first_legacy[0] != '\0')
		s = sc->first_legacy;
	if (s != NULL) {
		auth_file_dummy_cache.kind = DUMMY_CRYPT;
		strlcpy(auth_file_dummy_cache.setting, s,
		    sizeof(auth_file_dummy_cache.setting));
	} else
		auth_file_dummy_cache.kind = sc->plain ? DUMMY_PLAIN :
		    DUMMY_DEFAULT;
}

/* The crypt part of a dummy check; a {PLAIN} user's check adds it. */
static void
auth_file_burn(const char *secret)
{
	switch (auth_file_dummy_cache.kind) {
	case DUMMY_CRYPT:
		(void)auth_crypt_match(secret,
		    auth_file_dummy_cache.setting);
		break;
	case DUMMY_PLAIN:
		break;
	case DUMMY_UNSET:
	case DUMMY_DEFAULT:
		auth_dummy_crypt(secret);
		break;
	}
}

static void
auth_file_dummy(const struct config *cfg, const struct auth_request *req)
{
	struct auth_file_scan sc;

	if (auth_file_dummy_cache.kind == DUMMY_UNSET) {
		memset(&sc, 0, sizeof(sc));
		if (auth_file_scan(cfg->auth_file, &sc) == 0)
			auth_file_set_dummy(&sc);
		explicit_bzero(&sc, sizeof(sc));
	}
	if (req->method == AUTH_METHOD_APOP ||
	    req->method == AUTH_METHOD_CRAM_MD5)
		(void)auth_digest_match(req, AUTH_FILE_DUMMY_SECRET);
	if (auth_file_dummy_cache.kind == DUMMY_PLAIN)
		(void)auth_plain_match(req->secret, AUTH_FILE_DUMMY_SECRET);
	else
		auth_file_burn(req->secret);
}

static enum auth_result
auth_file_refuse(const struct config *cfg, const struct auth_request *req,
    const char **reason, const char *why)
{
	auth_file_dummy(cfg, req);
	*reason = why;
	return AUTH_FAIL;
}

static int
auth_file_password(const struct auth_request *req,
    const struct auth_file_found *f)
{
	int	 match;

	if (req->method == AUTH_METHOD_APOP ||
	    req->method == AUTH_METHOD_CRAM_MD5)
		match = auth_digest_match(req, f->secret);
	else if (f->pw == USERS_PW_CRYPT)
		return auth_crypt_match(req->secret, f->secret);
	else
		match = auth_plain_match(req->secret, f->secret);
	auth_file_burn(req->secret);
	return match;
}

static enum auth_result
auth_file_decide(const struct config *cfg, const struct auth_request *req,
    const struct auth_file_found *f, struct auth_user *au,
    const char **reason)
{
	long long	 uid, gid;

	switch (f->state) {
	case FOUND_NONE:
		*reason = "unknown user";
		return AUTH_UNKNOWN;
	case FOUND_BAD:
		return auth_file_refuse(cfg, req, reason, "malformed entry");
	case FOUND_ENTRY:
		break;
	}
	uid = f->uid != -1 ? f->uid : cfg->file_uid;
	gid = f->gid != -1 ? f->gid : cfg->file_gid;
	if (f->pw == USERS_PW_DISABLED)
		return auth_file_refuse(cfg, req, reason, "disabled");
	if (uid < 0 || uid > AUTH_FILE_ID_MAX || gid < 0 ||
	    gid > AUTH_FILE_ID_MAX)
		return auth_file_refuse(cfg, req, reason, "no uid or gid");
	/* RFC 1939 §7, RFC 2195: digests need the plaintext secret. */
	if ((req->method == AUTH_METHOD_APOP ||
	    req->method == AUTH_METHOD_CRAM_MD5) && f->pw != USERS_PW_PLAIN)
		return auth_file_refuse(cfg, req, reason,
		    "no plaintext secret");
	if (!auth_file_password(req, f)) {
		*reason = "bad password";
		return AUTH_FAIL;
	}
	strlcpy(au->name, req->user, sizeof(au->name));
	au->uid = (uid_t)uid;
	au->gid = (gid_t)gid;
	au->system_user = 0;
	strlcpy(au->home, f->home, sizeof(au->home));
	strlcpy(au->maildrop, f->maildrop, sizeof(au->maildrop));
	return AUTH_OK;
}

static enum auth_result
auth_file_check(const struct config *cfg, const struct auth_request *req,
    struct auth_user *au, const char **reason)
{
	struct auth_file_scan sc;
	enum auth_result r;

	memset(&sc, 0, sizeof(sc));
	sc.user = req->user;
	if (auth_file_scan(cfg->auth_file, &sc) == -1) {
		/* Never "unknown": a later backend must not step in. */
		*reason = "users file unreadable";
		r = AUTH_TEMPFAIL;
	} else {
		auth_file_set_dummy(&sc);
		r = auth_file_decide(cfg, req, &sc.found, au, reason);
	}
	explicit_bzero(&sc, sizeof(sc));
	return r;
}

static int
auth_file_has_plain_secrets(const struct config *cfg)
{
	struct auth_file_scan sc;
	int	 plain = 0;

	memset(&sc, 0, sizeof(sc));
	if (auth_file_scan(cfg->auth_file, &sc) == 0) {
		auth_file_set_dummy(&sc);
		plain = sc.plain;
	}
	explicit_bzero(&sc, sizeof(sc));
	return plain;
}

struct auth_file_seen {
	char	 name[NAME_MAX_LEN + 1];
	long	 line;
};

static int
auth_file_seen_cmp(const void *a, const void *b)
{
	const struct auth_file_seen *x = a, *y = b;
	int	 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

static int
auth_file_duplicates(const char *path, struct auth_file_seen *seen,
    size_t n)
{
	size_t	 i, first = 0;
	int	 problems = 0;

	if (n == 0)
		return 0;
	qsort(seen, n, sizeof(*seen), auth_file_seen_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(seen[i].name, seen[first].name) != 0) {
			first = i;
			continue;
		}
		log_warnx("%s:%ld: duplicate user %s (line %ld is used)",
		    path, seen[i].line, seen[i].name, seen[first].line);
		problems++;
	}
	return problems;
}

/* Problems and notes of a well-formed entry; returns the problems. */
static int
auth_file_check_entry(const struct config *cfg, const char *path,
    long line, const struct users_entry *e)
{
	char		 esc[64];
	long long	 uid, gid;

	if (e->notes & USERS_NOTE_LEGACY)
		log_warnx("%s:%ld: note: legacy hash method, rehash when "
		    "you can", path, line);
	if (e->notes & USERS_NOTE_MISMATCH)
		log_warnx("%s:%ld: note: {SCHEME} prefix does not match the "
		    "hash", path, line);
	if (e->notes & USERS_NOTE_UNKNOWN)
		log_warnx("%s:%ld: note: unknown extra field %s ignored",
		    path, line, log_escape(e->unknown, strlen(e->unknown),
		    esc, sizeof(esc)));
	if (e->pw == USERS_PW_DISABLED)
		return 0;
	uid = e->uid != -1 ? e->uid : cfg->file_uid;
	gid = e->gid != -1 ? e->gid : cfg->file_gid;
	if (uid < 0 || gid < 0) {
		log_warnx("%s:%ld: no uid or gid, and no file-uid or "
		    "file-gid: cannot log in", path, line);
		return 1;
	}
	if (uid == 0 && !cfg->allow_root)
		log_warnx("%s:%ld: note: uid 0 is refused at login", path,
		    line);
	return 0;
}

static int
auth_file_remember(struct auth_file_seen **seen, size_t *n, size_t *cap,
    const char *name, long line)
{
	struct auth_file_seen *p;

	if (*n == *cap) {
		if ((p = reallocarray(*seen, *cap ? *cap * 2 : 64,
		    sizeof(*p))) == NULL)
			return -1;
		*seen = p;
		*cap = *cap ? *cap * 2 : 64;
	}
	strlcpy((*seen)[*n].name, name, sizeof((*seen)[*n].name));
	(*seen)[(*n)++].line = line;
	return 0;
}

static int
auth_file_config_check(const struct config *cfg)
{
	struct users_reader r;
	struct users_entry e;
	struct auth_file_seen *seen = NULL;
	struct stat	 st;
	const char	*path = cfg->auth_file;
	char		*line;
	size_t		 len, nseen = 0, cap = 0;
	int		 rv, problems = 0, track = 1;

	if (path == NULL) {
		log_warnx("auth-file is not set");
		return 1;
	}
	if (users_file_open(&r, path) == -1) {
		log_warn("%s", path);
		return 1;
	}
	if (fstat(r.fd, &st) == 0) {
		if (st.st_mode & S_IWOTH) {
			log_warnx("%s: writable by everyone", path);
			problems++;
		} else if (st.st_mode & S_IROTH)
			log_warnx("%s: note: readable by everyone", path);
	}
	while ((rv = users_file_next(&r, &line, &len)) == 1) {
		switch (users_file_parse(line, len, &e)) {
		case USERS_LINE_SKIP:
			continue;
		case USERS_LINE_BAD:
			log_warnx("%s:%ld: %s", path, r.lineno, e.error);
			problems++;
			break;
		case USERS_LINE_ENTRY:
			problems += auth_file_check_entry(cfg, path, r.lineno,
			    &e);
			break;
		}
		if (e.name != NULL && track && auth_file_remember(&seen,
		    &nseen, &cap, e.name, r.lineno) == -1) {
			log_warn("%s: duplicate check skipped", path);
			track = 0;
		}
	}
	if (rv == -1) {
		log_warn("%s", path);
		problems++;
	}
	users_file_close(&r);
	problems += auth_file_duplicates(path, seen, nseen);
	free(seen);
	return problems;
}

const struct auth_backend auth_file_backend = {
	.name = "file",
	.kind = AUTH_FILE,
	.check = auth_file_check,
	.dummy = auth_file_dummy,
	.has_plain_secrets = auth_file_has_plain_secrets,
	.config_check = auth_file_config_check,
	.end = NULL,
};
