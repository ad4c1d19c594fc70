/*
 * The users-file parser and reader (pop3d.conf(5) "VIRTUAL USERS FILE"):
 * every
 * field rule, each password form, malformed and long lines, extra fields
 * and Dovecot's mail locations.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "users_file.h"

#include "check.h"

/* The parser cuts the line up in place: hand it a private copy. */
static char	 linebuf[3 * USERS_LINE_MAX];

static enum users_line
parse(const char *s, struct users_entry *e)
{
	size_t	 len = strlen(s);

	if (len >= sizeof(linebuf)) {
		fprintf(stderr, "test line too long\n");
		exit(2);
	}
	memcpy(linebuf, s, len + 1);
	return users_file_parse(linebuf, len, e);
}

static enum users_line
parse_len(const char *s, size_t len, struct users_entry *e)
{
	memcpy(linebuf, s, len);
	linebuf[len] = '\0';
	return users_file_parse(linebuf, len, e);
}

/* Parses "NAME:PASSWORD" and returns the kind; the entry is in *e. */
static enum users_line
parse_pw(const char *pw, struct users_entry *e)
{
	char	 line[1024];

	snprintf(line, sizeof(line), "u:%s:1:1", pw);
	return parse(line, e);
}

static void
make_hash(const char *prefix, const char *pw, char *out, size_t len)
{
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;
	const char		*h;

	cd = calloc(1, sizeof(*cd));
	if (cd == NULL || crypt_gensalt_rn(prefix, 0, NULL, 0, setting,
	    sizeof(setting)) == NULL ||
	    (h = crypt_rn(pw, setting, cd, sizeof(*cd))) == NULL ||
	    h[0] == '*') {
		fprintf(stderr, "cannot make a %s hash\n", prefix);
		exit(2);
	}
	snprintf(out, len, "%s", h);
	free(cd);
}

static void
test_blank(void)
{
	struct users_entry e;

	CHECK(parse("", &e) == USERS_LINE_SKIP);
	CHECK(parse("   \t ", &e) == USERS_LINE_SKIP);
	CHECK(parse("# alice:{PLAIN}x:1:1", &e) == USERS_LINE_SKIP);
	CHECK(parse("  \t# indented comment", &e) == USERS_LINE_SKIP);
	CHECK(parse("#", &e) == USERS_LINE_SKIP);
}

static void
test_full_line(void)
{
	struct users_entry e;

	CHECK(parse("alice@example.org:{PLAIN}s3cret:1000:1001:Alice A:"
	    "/home/alice:/bin/sh:maildrop=maildir:~/Maildir", &e) ==
	    USERS_LINE_ENTRY);
	CHECK_STREQ(e.name, "alice@example.org");
	CHECK(e.pw == USERS_PW_PLAIN);
	CHECK_STREQ(e.secret, "s3cret");
	CHECK(e.uid == 1000);
	CHECK(e.gid == 1001);
	CHECK_STREQ(e.home, "/home/alice");
	CHECK_STREQ(e.maildrop, "maildir:~/Maildir");
	CHECK(e.notes == 0);
	CHECK(e.unknown == NULL);
	CHECK(e.error == NULL);
}

static void
test_omitted_fields(void)
{
	struct users_entry e;

	CHECK(parse("bob", &e) == USERS_LINE_ENTRY);
	CHECK_STREQ(e.name, "bob");
	CHECK(e.pw == USERS_PW_DISABLED);
	CHECK(e.uid == -1 && e.gid == -1);
	CHECK_STREQ(e.home, "");
	CHECK(e.maildrop == NULL);

	CHECK(parse("bob:", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_DISABLED);

	CHECK(parse("bob:{PLAIN}pw", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN && check_streq(e.secret, "pw"));
	CHECK(e.uid == -1 && e.gid == -1);

	CHECK(parse("bob:{PLAIN}pw:42", &e) == USERS_LINE_ENTRY);
	CHECK(e.uid == 42 && e.gid == -1);

	CHECK(parse("bob:{PLAIN}pw::7", &e) == USERS_LINE_ENTRY);
	CHECK(e.uid == -1 && e.gid == 7);

	CHECK(parse("bob:{PLAIN}pw:1:2:", &e) == USERS_LINE_ENTRY);
	CHECK(parse("bob:{PLAIN}pw:1:2::", &e) == USERS_LINE_ENTRY);
	CHECK_STREQ(e.home, "");
	CHECK(parse("bob:{PLAIN}pw:1:2:::", &e) == USERS_LINE_ENTRY);
	CHECK(parse("bob:{PLAIN}pw:1:2::::", &e) == USERS_LINE_ENTRY);
	CHECK(e.maildrop == NULL && e.notes == 0);
	CHECK(parse("bob:{PLAIN}pw:1:2::/h:/bin/false", &e) ==
	    USERS_LINE_ENTRY);
	CHECK_STREQ(e.home, "/h");
}

static void
test_crypt_forms(void)
{
	struct users_entry e;
	char	 y[256], s6[256], b2[256], m1[256], s5[256], line[600];

	make_hash("$y$", "pw", y, sizeof(y));
	make_hash("$6$", "pw", s6, sizeof(s6));
	make_hash("$2b$", "pw", b2, sizeof(b2));
	make_hash("$1$", "pw", m1, sizeof(m1));
	make_hash("$5$", "pw", s5, sizeof(s5));

	CHECK(parse_pw(y, &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_CRYPT && check_streq(e.secret, y) &&
	    e.notes == 0);
	CHECK(parse_pw(s6, &e) == USERS_LINE_ENTRY && e.notes == 0);
	CHECK(parse_pw(b2, &e) == USERS_LINE_ENTRY && e.notes == 0);
	/* md5crypt and sha256crypt: libxcrypt calls them legacy. */
	CHECK(parse_pw(m1, &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_CRYPT && e.notes == USERS_NOTE_LEGACY);
	CHECK(parse_pw(s5, &e) == USERS_LINE_ENTRY);
	CHECK(e.notes == USERS_NOTE_LEGACY);
	/* Traditional DES: 13 characters, legacy. */
	CHECK(parse_pw("abJnggxhB/yWI", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_CRYPT && e.notes == USERS_NOTE_LEGACY);

	snprintf(line, sizeof(line), "{CRYPT}%s", y);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_CRYPT && check_streq(e.secret, y) &&
	    e.notes == 0);
	snprintf(line, sizeof(line), "{SHA512-CRYPT}%s", s6);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY);
	CHECK(check_streq(e.secret, s6) && e.notes == 0);
	snprintf(line, sizeof(line), "{sha512-crypt}%s", s6);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY && e.notes == 0);
	snprintf(line, sizeof(line), "{BLF-CRYPT}%s", b2);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY && e.notes == 0);
	snprintf(line, sizeof(line), "{MD5-CRYPT}%s", m1);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY);
	CHECK(e.notes == USERS_NOTE_LEGACY);
	snprintf(line, sizeof(line), "{SHA256-CRYPT}%s", s5);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY);
	CHECK(e.notes == USERS_NOTE_LEGACY);
	/* A prefix that disagrees with the hash still works, with a note. */
	snprintf(line, sizeof(line), "{SHA512-CRYPT}%s", y);
	CHECK(parse_pw(line, &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_CRYPT && e.notes == USERS_NOTE_MISMATCH);
}

static void
test_plain_forms(void)
{
	struct users_entry e;

	CHECK(parse_pw("{PLAIN}secret", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN && check_streq(e.secret, "secret"));
	CHECK(parse_pw("{plain}secret", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN);
	CHECK(parse_pw("{CLEARTEXT}secret", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN && check_streq(e.secret, "secret"));
	CHECK(parse_pw("{CLEAR}sec ret", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN && check_streq(e.secret, "sec ret"));
	/* A plaintext "!" is a password, not a lock. */
	CHECK(parse_pw("{PLAIN}!x", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN && check_streq(e.secret, "!x"));
	CHECK(parse_pw("{PLAIN}{x}", &e) == USERS_LINE_ENTRY);
	CHECK_STREQ(e.secret, "{x}");
	/* An empty plaintext disables. */
	CHECK(parse_pw("{PLAIN}", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_DISABLED);
}

static void
test_disabled_forms(void)
{
	struct users_entry e;
	static const char *const forms[] = {
		"", "!", "*", "!!", "*LK*", "!$6$abc$def", "!abJnggxhB/yWI",
		"{CRYPT}", "{CRYPT}!", "{SHA512-CRYPT}*",
	};
	size_t	 i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		CHECK(parse_pw(forms[i], &e) == USERS_LINE_ENTRY);
		CHECK(e.pw == USERS_PW_DISABLED);
	}
	/* Dovecot's nologin extra field disables too. */
	CHECK(parse("u:{PLAIN}pw:1:1::::nologin", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_DISABLED);
	CHECK(parse("u:{PLAIN}pw:1:1::::nologin=y", &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_DISABLED);
}

static void
test_bad_passwords(void)
{
	struct users_entry e;
	static const char *const bad[] = {
		"{SSHA}abcd", "{SHA512}abcd", "{PLAIN.b64}abcd", "{}x",
		"{PLAIN", "{CRYPT}x", "x", "secret123", "plaintext",
		"$9$abc$def", "abJnggxhB/yW", "abJnggxhB/yWI1", "_J9..abc",
		"{CRYPT}{PLAIN}x",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(parse_pw(bad[i], &e) == USERS_LINE_BAD);
		/* The line still names its user, who is then refused. */
		CHECK_STREQ(e.name, "u");
		CHECK(e.error != NULL);
		CHECK(e.pw == USERS_PW_DISABLED && e.secret == NULL);
	}
	CHECK(parse_pw("{SSHA}abcd", &e) == USERS_LINE_BAD);
	CHECK_STREQ(e.error, "unsupported password scheme");
}

static void
test_ids(void)
{
	struct users_entry e;
	static const char *const bad[] = {
		"-1", "+1", " 1", "1 ", "1x", "0x10", "4294967295",
		"99999999999", "1.0", "١",
	};
	char	 line[128];
	size_t	 i;

	CHECK(parse("u:{PLAIN}p:0:0", &e) == USERS_LINE_ENTRY);
	CHECK(e.uid == 0 && e.gid == 0);
	CHECK(parse("u:{PLAIN}p:4294967294:4294967294", &e) ==
	    USERS_LINE_ENTRY);
	CHECK(e.uid == 4294967294LL && e.gid == 4294967294LL);
	CHECK(parse("u:{PLAIN}p:007:8", &e) == USERS_LINE_ENTRY);
	CHECK(e.uid == 7);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "u:{PLAIN}p:%s:1", bad[i]);
		CHECK(parse(line, &e) == USERS_LINE_BAD);
		CHECK_STREQ(e.error, "bad uid");
		CHECK_STREQ(e.name, "u");
		snprintf(line, sizeof(line), "u:{PLAIN}p:1:%s", bad[i]);
		CHECK(parse(line, &e) == USERS_LINE_BAD);
		CHECK_STREQ(e.error, "bad gid");
	}
}

static void
test_home(void)
{
	struct users_entry e;

	CHECK(parse("u:{PLAIN}p:1:1::/:", &e) == USERS_LINE_ENTRY);
	CHECK_STREQ(e.home, "/");
	CHECK(parse("u:{PLAIN}p:1:1::/home/u", &e) == USERS_LINE_ENTRY);
	CHECK_STREQ(e.home, "/home/u");
	CHECK(parse("u:{PLAIN}p:1:1::home/u", &e) == USERS_LINE_BAD);
	CHECK(parse("u:{PLAIN}p:1:1::~/u", &e) == USERS_LINE_BAD);
	/* gecos and shell are ignored, whatever they hold. */
	CHECK(parse("u:{PLAIN}p:1:1:Ann \xc3\xa9 O'Neil, room 4:/h:nonsense",
	    &e) == USERS_LINE_ENTRY);
}

static void
test_extra(void)
{
	struct users_entry e;

	CHECK(parse("u:{PLAIN}p:1:1::::maildrop=mbox:/var/mail/%u", &e) ==
	    USERS_LINE_ENTRY);
	CHECK_STREQ(e.maildrop, "mbox:/var/mail/%u");
	/* Colons inside the extra field belong to it. */
	CHECK(parse("u:{PLAIN}p:1:1::::maildrop=maildir:/a:b", &e) ==
	    USERS_LINE_ENTRY);
	CHECK_STREQ(e.maildrop, "maildir:/a:b");
	CHECK(parse("u:{PLAIN}p:1:1::::  \tmaildrop=maildir:~/M  \t ", &e) ==
	    USERS_LINE_ENTRY);
	CHECK(check_streq(e.maildrop, "maildir:~/M") && e.notes == 0);

	CHECK(parse("u:{PLAIN}p:1:1::::maildrop=mh:/x", &e) ==
	    USERS_LINE_BAD);
	CHECK_STREQ(e.error, "maildrop format must be mbox or maildir");
	CHECK(parse("u:{PLAIN}p:1:1::::maildrop=mbox:", &e) ==
	    USERS_LINE_BAD);
	CHECK(parse("u:{PLAIN}p:1:1::::maildrop=/var/mail/u", &e) ==
	    USERS_LINE_BAD);
	CHECK(parse("u:{PLAIN}p:1:1::::maildrop", &e) == USERS_LINE_BAD);
	CHECK(parse("u:{PLAIN}p:1:1::::maildrop=", &e) == USERS_LINE_BAD);
	CHECK(e.maildrop == NULL);

	/* Unknown fields: ignored, the first one named for the note. */
	CHECK(parse("u:{PLAIN}p:1:1::::quota_rule=*:storage=1G foo=bar "
	    "maildrop=mbox:/m", &e) == USERS_LINE_ENTRY);
	CHECK(e.notes == USERS_NOTE_UNKNOWN);
	CHECK_STREQ(e.unknown, "quota_rule");
	CHECK_STREQ(e.maildrop, "mbox:/m");
	CHECK(parse("u:{PLAIN}p:1:1::::flag", &e) == USERS_LINE_ENTRY);
	CHECK(e.notes == USERS_NOTE_UNKNOWN && check_streq(e.unknown, "flag"));
	/* nopassword is not honoured: the password is still checked. */
	CHECK(parse("u:{PLAIN}p:1:1::::nopassword=y", &e) ==
	    USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN && e.notes == USERS_NOTE_UNKNOWN);

	/* A restriction we cannot enforce refuses the entry. */
	CHECK(parse("u:{PLAIN}p:1:1::::allow_nets=10.0.0.0/8", &e) ==
	    USERS_LINE_BAD);
	CHECK_STREQ(e.name, "u");
	CHECK(parse("u:{PLAIN}p:1:1::::allow_real_nets=::1", &e) ==
	    USERS_LINE_BAD);
}

static void
test_dovecot_mail(void)
{
	struct users_entry e;
	static const struct {
		const char	*extra;
		const char	*want;	/* NULL: malformed */
	} cases[] = {
		{ "userdb_mail=maildir:~/Maildir", "maildir:~/Maildir" },
		{ "userdb_mail=maildir:~/Maildir:LAYOUT=fs",
		    "maildir:~/Maildir" },
		{ "userdb_mail=maildir:/srv/%d/%n/Maildir:INDEX=/i:LAYOUT=fs",
		    "maildir:/srv/%d/%l/Maildir" },
		{ "userdb_mail=mbox:~/mail", "mbox:~/mail" },
		{ "userdb_mail=mbox:~/mail:INBOX=/var/mail/%u",
		    "mbox:/var/mail/%u" },
		{ "userdb_mail=mbox:~/mail:INBOX=/var/mail/%n",
		    "mbox:/var/mail/%l" },
		{ "userdb_mail=mbox:~/mail:LAYOUT=fs:INBOX=/var/spool/%n:X=y",
		    "mbox:/var/spool/%l" },
		{ "mail=maildir:/m/%%n", "maildir:/m/%%n" },
		{ "mail=maildir:/m/%n", "maildir:/m/%l" },
		{ "userdb_mail=maildir:/m/%", "maildir:/m/%" },
		{ "userdb_mail=sdbox:~/dbox", NULL },
		{ "userdb_mail=~/Maildir", NULL },
		{ "userdb_mail=maildir:", NULL },
		{ "userdb_mail=mbox:~/mail:INBOX=", NULL },
		{ "userdb_mail", NULL },
		/* Our own key wins over the alias, in either order. */
		{ "userdb_mail=maildir:/a maildrop=mbox:/b", "mbox:/b" },
		{ "maildrop=mbox:/b userdb_mail=maildir:/a", "mbox:/b" },
	};
	char	 line[256];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "u:{PLAIN}p:1:1::/h::%s",
		    cases[i].extra);
		if (cases[i].want == NULL) {
			CHECK(parse(line, &e) == USERS_LINE_BAD);
			CHECK(e.maildrop == NULL);
			continue;
		}
		CHECK(parse(line, &e) == USERS_LINE_ENTRY);
		CHECK_STREQ(e.maildrop, cases[i].want);
		if (!check_streq(e.maildrop, cases[i].want))
			fprintf(stderr, "  case %zu: got %s\n", i,
			    e.maildrop ? e.maildrop : "(null)");
		CHECK(e.notes == 0);
	}
}

static void
test_names(void)
{
	struct users_entry e;
	static const char *const bad[] = {
		":{PLAIN}p:1:1", "-alice:{PLAIN}p:1:1", ".alice:{PLAIN}p",
		"a/b:{PLAIN}p", "a..b@x:{PLAIN}p", "a@b@c:{PLAIN}p",
		"@x:{PLAIN}p", "a@:{PLAIN}p", " alice:{PLAIN}p",
		"al ice:{PLAIN}p", "al\tice:{PLAIN}p", "al%ice:{PLAIN}p",
		"ali\xc3\xa9:{PLAIN}p", "a@.x:{PLAIN}p",
	};
	char	 line[400];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(parse(bad[i], &e) == USERS_LINE_BAD);
		CHECK(e.name == NULL);
		CHECK_STREQ(e.error, "bad user name");
	}
	CHECK(parse("Alice.B_c+d=e-f@mail.example.org:{PLAIN}p", &e) ==
	    USERS_LINE_ENTRY);
	CHECK_STREQ(e.name, "Alice.B_c+d=e-f@mail.example.org");
	CHECK(parse("_svc:{PLAIN}p", &e) == USERS_LINE_ENTRY);

	/* NAME_MAX_LEN octets are fine, one more is not. */
	memset(line, 'a', NAME_MAX_LEN);
	strcpy(line + NAME_MAX_LEN, ":{PLAIN}p");
	CHECK(parse(line, &e) == USERS_LINE_ENTRY);
	CHECK(e.name != NULL && strlen(e.name) == NAME_MAX_LEN);
	memset(line, 'a', NAME_MAX_LEN + 1);
	strcpy(line + NAME_MAX_LEN + 1, ":{PLAIN}p");
	CHECK(parse(line, &e) == USERS_LINE_BAD);
	CHECK(e.name == NULL);
}

static void
test_control_and_long(void)
{
	struct users_entry e;
	static char	 big[2 * USERS_LINE_MAX];
	size_t		 n;

	CHECK(parse("alice:{PLAIN}a\001b:1:1", &e) == USERS_LINE_BAD);
	CHECK_STREQ(e.name, "alice");
	CHECK_STREQ(e.error, "control character in line");
	CHECK(parse("alice:{PLAIN}ab:1:1::/h\177", &e) == USERS_LINE_BAD);
	CHECK(parse("alice:{PLAIN}ab:1:1\r", &e) == USERS_LINE_BAD);
	CHECK(parse_len("alice:{PLAIN}a\0b:1:1", 19, &e) == USERS_LINE_BAD);
	CHECK_STREQ(e.name, "alice");
	CHECK_STREQ(e.error, "control character in line");
	CHECK(parse_len("ali\0ce:{PLAIN}ab", 16, &e) == USERS_LINE_BAD);
	CHECK(e.name == NULL);
	/* A TAB is fine (it separates extra fields). */
	CHECK(parse("alice:{PLAIN}ab:1:1::::\tfoo=1", &e) == USERS_LINE_ENTRY);

	/* USERS_LINE_MAX octets: fine; one more: malformed, still named. */
	n = strlen("alice:{PLAIN}");
	memcpy(big, "alice:{PLAIN}", n);
	memset(big + n, 'x', USERS_LINE_MAX - n);
	big[USERS_LINE_MAX] = '\0';
	CHECK(parse(big, &e) == USERS_LINE_ENTRY);
	CHECK(e.pw == USERS_PW_PLAIN &&
	    strlen(e.secret) == USERS_LINE_MAX - n);
	memcpy(big, "alice:{PLAIN}", n);
	memset(big + n, 'x', USERS_LINE_MAX + 1 - n);
	big[USERS_LINE_MAX + 1] = '\0';
	CHECK(parse(big, &e) == USERS_LINE_BAD);
	CHECK_STREQ(e.name, "alice");
	CHECK_STREQ(e.error, "line too long");
	/* Too long without any colon: nobody to attribute it to. */
	memset(big, 'a', USERS_LINE_MAX + 1);
	big[USERS_LINE_MAX + 1] = '\0';
	CHECK(parse(big, &e) == USERS_LINE_BAD && e.name == NULL);
}

static const char *
tmpdir(void)
{
	static char	 dir[PATH_MAX];
	const char	*t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/test_users_file.XXXXXX",
	    t != NULL && t[0] == '/' ? t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	return dir;
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, data, len) != (ssize_t)len || close(fd) == -1) {
		perror(path);
		exit(2);
	}
}

static size_t
append(char *buf, size_t off, const char *s)
{
	memcpy(buf + off, s, strlen(s));
	return off + strlen(s);
}

static void
test_reader(const char *dir)
{
	struct users_reader r;
	static char	 data[4 * USERS_LINE_MAX];
	char		 path[PATH_MAX], *line;
	size_t		 len, off = 0, i;

	/* 1: "a"  2: CRLF "b"  3: empty  4: 10000 octets  5: "c"
	 * 6: USERS_LINE_MAX octets + CRLF  7: "d\r\r"  8: "e" without LF */
	off = append(data, off, "a\nb\r\n\n");
	memset(data + off, 'L', 10000);
	off += 10000;
	off = append(data, off, "\nc\n");
	memset(data + off, 'M', USERS_LINE_MAX);
	off += USERS_LINE_MAX;
	off = append(data, off, "\r\nd\r\r\ne");
	snprintf(path, sizeof(path), "%s/users", dir);
	write_file(path, data, off);

	CHECK(users_file_open(&r, path) == 0);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == 1 && check_streq(line, "a") && r.lineno == 1);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == 1 && check_streq(line, "b") && r.lineno == 2);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == 0 && check_streq(line, "") && r.lineno == 3);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == USERS_LINE_MAX + 1 && r.lineno == 4);
	CHECK(strlen(line) == USERS_LINE_MAX + 1);
	for (i = 0; i < len; i++)
		if (line[i] != 'L')
			break;
	CHECK(i == len);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == 1 && check_streq(line, "c") && r.lineno == 5);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == USERS_LINE_MAX && r.lineno == 6);
	CHECK(strlen(line) == USERS_LINE_MAX && line[len - 1] == 'M');
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == 2 && check_streq(line, "d\r") && r.lineno == 7);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == 1 && check_streq(line, "e") && r.lineno == 8);
	CHECK(users_file_next(&r, &line, &len) == 0);
	CHECK(users_file_next(&r, &line, &len) == 0);
	users_file_close(&r);
	CHECK(r.fd == -1);
	for (i = 0; i < sizeof(r.buf); i++)
		if (r.buf[i] != '\0')
			break;
	CHECK(i == sizeof(r.buf));

	/* A long line at the very end, without LF. */
	memset(data, 'Z', 3 * USERS_LINE_MAX);
	write_file(path, data, 3 * USERS_LINE_MAX);
	CHECK(users_file_open(&r, path) == 0);
	CHECK(users_file_next(&r, &line, &len) == 1);
	CHECK(len == USERS_LINE_MAX + 1 && r.lineno == 1);
	CHECK(users_file_next(&r, &line, &len) == 0);
	users_file_close(&r);

	/* Empty file. */
	write_file(path, "", 0);
	CHECK(users_file_open(&r, path) == 0);
	CHECK(users_file_next(&r, &line, &len) == 0);
	users_file_close(&r);

	/* Not a regular file: refused at once, a FIFO does not hang. */
	CHECK(users_file_open(&r, dir) == -1 && errno == EISDIR);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK(users_file_open(&r, path) == -1 && errno == EINVAL);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK(users_file_open(&r, path) == -1 && errno == ENOENT);
	snprintf(path, sizeof(path), "%s/users", dir);
	(void)unlink(path);
}

int
main(void)
{
	const char	*dir = tmpdir();

	test_blank();
	test_full_line();
	test_omitted_fields();
	test_crypt_forms();
	test_plain_forms();
	test_disabled_forms();
	test_bad_passwords();
	test_ids();
	test_home();
	test_extra();
	test_dovecot_mail();
	test_names();
	test_control_and_long();
	test_reader(dir);
	(void)rmdir(dir);
	CHECK_DONE();
}
