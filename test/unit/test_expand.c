/*
 * maildrop.c: the format table and the expansion of "FORMAT:PATH"
 * (pop3d.conf(5) `maildrop`).  Every escape and every error, with exact text.
 * Linked without the formats: the ops below stand in for them.
 */
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "maildrop.h"

#include "check.h"

#if WITH_MAILDROP_MBOX
const struct maildrop_ops mbox_ops = { .name = "mbox" };
#endif
#if WITH_MAILDROP_MAILDIR
const struct maildrop_ops maildir_ops = { .name = "maildir" };
#endif

/* A format that is built, for the tests that do not depend on it. */
#if WITH_MAILDROP_MAILDIR
#define FMT	"maildir"
#else
#define FMT	"mbox"
#endif

/* Expects success with path `want` and format `fmt`. */
static void
ok_n(int line, const char *spec, const char *user, const char *home,
    const char *fmt, const char *want)
{
	const struct maildrop_ops *ops = NULL;
	const char	*err = NULL;
	char		 path[256];

	memset(path, 'Z', sizeof(path));
	if (maildrop_expand(spec, user, home, &ops, path, sizeof(path),
	    &err) != 0) {
		fprintf(stderr, "%s:%d: \"%s\" user %s home %s: error \"%s\"\n",
		    __FILE__, line, spec, user, home ? home : "(null)", err);
		CHECK_FAIL();
		return;
	}
	if (strcmp(path, want) != 0 || ops == NULL ||
	    strcmp(ops->name, fmt) != 0) {
		fprintf(stderr, "%s:%d: \"%s\": got %s:%s, want %s:%s\n",
		    __FILE__, line, spec, ops ? ops->name : "(null)", path,
		    fmt, want);
		CHECK_FAIL();
	}
}

/* Expects failure with exactly the error text `want`. */
static void
err_n(int line, const char *spec, const char *user, const char *home,
    size_t pathlen, const char *want)
{
	const struct maildrop_ops *ops = NULL;
	const char	*err = NULL;
	char		 path[256];

	if (maildrop_expand(spec, user, home, &ops, path, pathlen,
	    &err) != -1) {
		fprintf(stderr, "%s:%d: \"%s\": accepted as %s\n", __FILE__,
		    line, spec, path);
		CHECK_FAIL();
		return;
	}
	if (err == NULL || strcmp(err, want) != 0) {
		fprintf(stderr, "%s:%d: \"%s\": error \"%s\", want \"%s\"\n",
		    __FILE__, line, spec, err ? err : "(null)", want);
		CHECK_FAIL();
	}
}

#define OK(spec, user, home, fmt, want) \
	ok_n(__LINE__, spec, user, home, fmt, want)
#define ERR(spec, user, home, want) \
	err_n(__LINE__, spec, user, home, 256, want)

static const char E_SPLIT[] = "maildrop must be FORMAT:PATH";
static const char E_FORMAT[] = "unknown maildrop format";
static const char E_ESCAPE[] = "maildrop path has an unknown %-escape";
static const char E_HOME_H[] =
    "maildrop path uses %h but the home directory is empty";
static const char E_HOME_T[] =
    "maildrop path uses ~/ but the home directory is empty";
static const char E_REL[] = "maildrop path is not absolute";
static const char E_DOT[] = "maildrop path has a '.' or '..' component";
static const char E_LONG[] = "maildrop path too long";

static void
test_table(void)
{
#if WITH_MAILDROP_MBOX
	CHECK(maildrop_format("mbox", 4) == &mbox_ops);
	CHECK(maildrop_format("mboxx", 4) == &mbox_ops);
#else
	CHECK(maildrop_format("mbox", 4) == NULL);
#endif
#if WITH_MAILDROP_MAILDIR
	CHECK(maildrop_format("maildir", 7) == &maildir_ops);
#else
	CHECK(maildrop_format("maildir", 7) == NULL);
#endif
	CHECK(maildrop_format("maildi", 6) == NULL);
	CHECK(maildrop_format("maildirx", 8) == NULL);
	CHECK(maildrop_format("Maildir", 7) == NULL);
	CHECK(maildrop_format("", 0) == NULL);
}

static void
test_escapes(void)
{
#if WITH_MAILDROP_MAILDIR
	OK("maildir:/var/mail/%u", "alice", "/home/alice", "maildir",
	    "/var/mail/alice");
	OK("maildir:/srv/%d/%l/Maildir", "alice@example.org", "", "maildir",
	    "/srv/example.org/alice/Maildir");
	OK("maildir:/srv/%u", "alice@example.org", NULL, "maildir",
	    "/srv/alice@example.org");
	/* No '@': %l is the whole name, %d is empty. */
	OK("maildir:/srv/%d/%l", "bob", "", "maildir", "/srv//bob");
	OK("maildir:%h/Maildir", "bob", "/home/bob", "maildir",
	    "/home/bob/Maildir");
	OK("maildir:~/Maildir", "bob", "/home/bob", "maildir",
	    "/home/bob/Maildir");
	/* A home with trailing slashes does not double them. */
	OK("maildir:~/Maildir", "bob", "/home/bob//", "maildir",
	    "/home/bob/Maildir");
	OK("maildir:~/Maildir", "bob", "/", "maildir", "/Maildir");
	OK("maildir:~/", "bob", "/home/bob", "maildir", "/home/bob/");
	OK("maildir:/a/100%%/%u%%", "bob", "", "maildir", "/a/100%/bob%");
	/* "~" elsewhere is an ordinary character. */
	OK("maildir:/a/~/b", "bob", "/home/bob", "maildir", "/a/~/b");
	/* Names that look like dot components only in part. */
	OK("maildir:/a/..b/.c/d../%u", "b.c", "", "maildir",
	    "/a/..b/.c/d../b.c");
	OK("maildir:/", "bob", "", "maildir", "/");
	/* Only the first ':' splits. */
	OK("maildir:/a:b/%u", "bob", "", "maildir", "/a:b/bob");
#endif
#if WITH_MAILDROP_MBOX
	OK("mbox:/var/mail/%u", "alice", "", "mbox", "/var/mail/alice");
	OK("mbox:~/mbox", "alice", "/home/alice", "mbox", "/home/alice/mbox");
#endif
}

/* FORMAT is prepended; the user is "bob". */
static const struct {
	const char	*path, *home, *err;
} errs[] = {
	{ "/a/%x", "/h", E_ESCAPE },
	{ "/a/%U", "/h", E_ESCAPE },
	{ "/a/%", "/h", E_ESCAPE },
	{ "/a/%/b", "/h", E_ESCAPE },
	{ "%h/x", "", E_HOME_H },
	{ "%h/x", NULL, E_HOME_H },
	{ "/a/%h", "", E_HOME_H },
	{ "~/x", "", E_HOME_T },
	{ "~/x", NULL, E_HOME_T },
	{ "", "/h", E_REL },
	{ "var/mail/%u", "/h", E_REL },
	{ "~bob/x", "/h", E_REL },
	{ "~", "/h", E_REL },
	{ "%u", "/h", E_REL },
	{ "%h/x", "home/bob", E_REL },
	{ "~/x", "home/bob", E_REL },
	{ "/a/../b", "/h", E_DOT },
	{ "/a/./b", "/h", E_DOT },
	{ "/a/..", "/h", E_DOT },
	{ "/a/.", "/h", E_DOT },
	{ "/..", "/h", E_DOT },
	{ "/./a", "/h", E_DOT },
	{ "//../a", "/h", E_DOT },
	{ "%h/Maildir", "/home/../etc", E_DOT },
	{ "~/Maildir", "/home/bob/..", E_DOT },
	{ "%h/Maildir", "/home/./bob", E_DOT },
};

static void
test_errors(void)
{
	char		 spec[64];
	size_t		 i;

	ERR("", "bob", "/h", E_SPLIT);
	ERR("/var/mail/bob", "bob", "/h", E_SPLIT);
	ERR("maildir", "bob", "/h", E_SPLIT);
	ERR(":/var/mail/%u", "bob", "/h", E_FORMAT);
	ERR("mh:/var/mail/%u", "bob", "/h", E_FORMAT);
	ERR("Maildir:/var/mail/%u", "bob", "/h", E_FORMAT);
	ERR("maildir :/var/mail/%u", "bob", "/h", E_FORMAT);
#if !WITH_MAILDROP_MBOX
	ERR("mbox:/var/mail/%u", "bob", "/h",
	    "maildrop format 'mbox' is not built in");
#endif
#if !WITH_MAILDROP_MAILDIR
	ERR("maildir:/var/mail/%u", "bob", "/h",
	    "maildrop format 'maildir' is not built in");
#endif
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		snprintf(spec, sizeof(spec), FMT ":%s", errs[i].path);
		err_n(__LINE__, spec, "bob", errs[i].home, 256, errs[i].err);
	}
}

/* pathlen: the result and its NUL must fit, else an error, never a cut. */
static void
test_length(void)
{
	const struct maildrop_ops *ops;
	const char	*err, *spec = FMT ":/var/mail/%u";
	char		 path[64], big[300];
	size_t		 i;

	/* "/var/mail/alice" is 15 octets. */
	memset(path, 'Z', sizeof(path));
	CHECK(maildrop_expand(spec, "alice", "", &ops, path, 16, &err) == 0);
	CHECK_STREQ(path, "/var/mail/alice");
	CHECK(path[16] == 'Z');
	memset(path, 'Z', sizeof(path));
	err = NULL;
	CHECK(maildrop_expand(spec, "alice", "", &ops, path, 15, &err) == -1);
	CHECK_STREQ(err, E_LONG);
	CHECK(path[15] == 'Z');
	err_n(__LINE__, spec, "alice", "", 1, E_LONG);
	err_n(__LINE__, spec, "alice", "", 0, E_LONG);
	/* Overflow by the home directory, and by ~/. */
	memset(big, 'h', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	err_n(__LINE__, FMT ":%h/x", "alice", big, 256, E_LONG);
	err_n(__LINE__, FMT ":~/x", "alice", big, 256, E_LONG);
	/* The longest user name with many escapes. */
	for (i = 0; i < 128; i++)
		big[i] = 'u';
	big[128] = '\0';
	err_n(__LINE__, FMT ":/%u%u", "alice", "", 8, E_LONG);
	err_n(__LINE__, FMT ":/%u/%u", big, "", 256, E_LONG);
}

int
main(void)
{
	test_table();
	test_escapes();
	test_errors();
	test_length();
	CHECK_DONE();
}
