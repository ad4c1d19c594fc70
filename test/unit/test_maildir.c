/*
 * maildir.c on real maildirs, built in a fresh directory under $TMPDIR or
 * else the current directory (never /tmp by default, as pop3d itself).
 * Each file's content starts with its own name, so that a test can tell
 * which message a number is by reading it through source().
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "maildir_priv.h"

#include "check.h"

extern const struct maildrop_ops maildir_ops;

static char base[PATH_MAX];

static void
die(const char *what)
{
	perror(what);
	exit(2);
}

static const char *
at(const char *md, const char *rel)
{
	static char	 p[4][PATH_MAX];
	static int	 k;
	int		 n;

	k = (k + 1) % 4;
	if (rel == NULL)
		n = snprintf(p[k], sizeof(p[k]), "%s/%s", base, md);
	else
		n = snprintf(p[k], sizeof(p[k]), "%s/%s/%s", base, md, rel);
	if (n < 0 || (size_t)n >= sizeof(p[k]))
		die("path too long");
	return p[k];
}

/* A maildir with new/, cur/ and tmp/; returns its path (until next call). */
static const char *
newmd(const char *md)
{
	static char	 path[PATH_MAX];

	if (mkdir(at(md, NULL), 0700) == -1 ||
	    mkdir(at(md, "new"), 0700) == -1 ||
	    mkdir(at(md, "cur"), 0700) == -1 ||
	    mkdir(at(md, "tmp"), 0700) == -1)
		die(md);
	strlcpy(path, at(md, NULL), sizeof(path));
	return path;
}

static void
put_n(const char *md, const char *rel, const char *data, size_t len)
{
	int	 fd;

	if ((fd = open(at(md, rel), O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		die(at(md, rel));
	if (write(fd, data, len) != (ssize_t)len)
		die("write");
	close(fd);
}

/* A message whose content is its name and a newline. */
static void
put(const char *md, const char *rel)
{
	const char	*name = strchr(rel, '/') + 1;
	char		 buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s\n", name);
	put_n(md, rel, buf, strlen(buf));
}

static int
gone(const char *md, const char *rel)
{
	struct stat	 st;

	return lstat(at(md, rel), &st) == -1 && errno == ENOENT;
}

/*
 * One state directory for the whole run (the session lock's file);
 * a maildrop is keyed by its directory's inode, so tests never meet.
 */
static char	 state_dir[64];
static int	 state_fd = -1;

static int
statefd(void)
{
	char	*dir = state_dir;
	int	 fd = state_fd;

	if (fd == -1) {
		snprintf(dir, sizeof(state_dir),
		    "/var/tmp/pop3d-mdstate.XXXXXX");
		if (mkdtemp(dir) == NULL ||
		    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			perror("state directory");
			exit(2);
		}
		state_fd = fd;
	}
	return fd;
}

/* Removes the state directory and its lock files at the end. */
static void
statefd_remove(void)
{
	struct dirent	*de;
	DIR		*d;

	if (state_fd == -1 || (d = fdopendir(state_fd)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			(void)unlinkat(dirfd(d), de->d_name, 0);
	(void)closedir(d);
	(void)rmdir(state_dir);
	state_fd = -1;
}

static enum md_status
mdopen(struct maildrop *md, const char *path)
{
	memset(md, 0, sizeof(*md));
	md->ops = &maildir_ops;
	md->statefd = statefd();
	return maildrop_open(md, path);
}

/* Message i's content through source(); NULL if it is gone. */
static char *
content(struct maildrop *md, size_t i, size_t *lenp)
{
	struct md_source src;
	enum md_status	 rc;
	char		*buf;
	ssize_t		 n;

	if ((rc = md->ops->source(md, i, &src)) != MD_OK) {
		CHECK(rc == MD_GONE);
		return NULL;
	}
	CHECK(src.offset == 0 && src.close_fd == 1);
	buf = calloc(1, src.length + 1);
	n = pread(src.fd, buf, src.length, 0);
	CHECK(n == (ssize_t)src.length);
	close(src.fd);
	if (lenp != NULL)
		*lenp = src.length;
	return buf;
}

/* Message i's name (the first line of its content). */
static char *
name_of(struct maildrop *md, size_t i)
{
	static char	 name[PATH_MAX];
	char		*c = content(md, i, NULL);

	if (c == NULL)
		return strcpy(name, "(gone)");
	c[strcspn(c, "\n")] = '\0';
	strlcpy(name, c, sizeof(name));
	free(c);
	return name;
}

static char *
uid_of(struct maildrop *md, size_t i)
{
	static char	 uid[UID_MAX_LEN + 1];

	memset(uid, 0, sizeof(uid));
	CHECK(md->ops->uid(md, i, uid) == MD_OK);
	return uid;
}

static int
uid_ok(const char *uid)
{
	size_t	 i, len = strlen(uid);

	if (len < 1 || len > UID_MAX_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)uid[i] < 0x21 ||
		    (unsigned char)uid[i] > 0x7e)
			return 0;
	return 1;
}

/* Every UID valid and none twice (RFC 1939 §7). */
static void
check_uids_unique(struct maildrop *md)
{
	char	(*u)[UID_MAX_LEN + 1] = calloc(md->count + 1, sizeof(*u));
	size_t	 i, j;

	for (i = 0; i < md->count; i++) {
		strlcpy(u[i], uid_of(md, i), sizeof(u[i]));
		if (!uid_ok(u[i])) {
			fprintf(stderr, "bad uid \"%s\"\n", u[i]);
			CHECK_FAIL();
		}
		for (j = 0; j < i; j++)
			if (strcmp(u[i], u[j]) == 0) {
				fprintf(stderr, "uid %s twice\n", u[i]);
				CHECK_FAIL();
			}
	}
	free(u);
}

static void
test_order(void)
{
	static const char *const want[] = {
		"999.x:2,",
		"1700000001.a.host:2,S",
		"1700000001.b.host",
		"0001700000001.z",
		"noprefix",
		"1700000002.a.host",
		"99999999999999999999999.big",
	};
	struct timespec	 ts[2] = { { 1700000001, 0 }, { 1700000001, 0 } };
	struct maildrop	 md;
	const char	*p = newmd("order");
	size_t		 i;

	put("order", "new/1700000002.a.host");
	put("order", "new/1700000001.b.host");
	put("order", "new/0001700000001.z");
	put("order", "cur/1700000001.a.host:2,S");
	put("order", "cur/999.x:2,");
	put("order", "cur/noprefix");
	put("order", "cur/99999999999999999999999.big");
	if (utimensat(AT_FDCWD, at("order", "cur/noprefix"), ts, 0) == -1)
		die("utimensat");
	/* Never served: tmp/, dot files, and what is not a regular file. */
	put("order", "tmp/1.tmpfile");
	put("order", "new/.1.dotfile");
	put("order", "cur/.hidden:2,S");
	put("order", "new/1600000000.target");
	if (rename(at("order", "new/1600000000.target"),
	    at("order", "target")) == -1 ||
	    symlink("../target", at("order", "new/1500000000.link")) == -1 ||
	    symlink("../cur/999.x:2,", at("order", "cur/1.link")) == -1 ||
	    mkfifo(at("order", "new/1500000001.fifo"), 0600) == -1 ||
	    mkdir(at("order", "cur/1500000002.dir"), 0700) == -1 ||
	    mknod(at("order", "new/1500000003.sock"), S_IFSOCK | 0600, 0) == -1)
		die("order setup");
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == sizeof(want) / sizeof(want[0]));
	for (i = 0; i < md.count && i < sizeof(want) / sizeof(want[0]); i++)
		if (strcmp(name_of(&md, i), want[i]) != 0) {
			fprintf(stderr, "order %zu: %s, want %s\n", i,
			    name_of(&md, i), want[i]);
			CHECK_FAIL();
		}
	CHECK_STREQ(uid_of(&md, 0), "999.x");
	CHECK_STREQ(uid_of(&md, 1), "1700000001.a.host");
	CHECK_STREQ(uid_of(&md, 4), "noprefix");
	check_uids_unique(&md);
	md.ops->close(&md);
	CHECK(md.priv == NULL);
}

static void
test_uids(void)
{
	static const struct {
		const char	*rel, *uid;
	} t[] = {
		{ "new/1.x y", "aac5b5ae297c14b609d200487670eae8" },
		{ "cur/:2,S", "d41d8cd98f00b204e9800998ecf8427e" },
		/* 71 octets: hashed; 70: kept. */
		{ "new/1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaa",
		    "a6474b3be7a516f4f4443bb176287992" },
		{ "new/1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaa",
		    "1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaa" },
		{ "new/2.\xc3\xa9t\xc3\xa9",
		    "e30e4f827c2fe82640ede0eda5ccf49f" },
		{ "new/3.tab\there", NULL },
		/* The flags are not part of the UID. */
		{ "cur/4.flags:2,FS", "4.flags" },
		/* Same unique part twice: cur/ keeps it, new/ is derived. */
		{ "new/5.dup.h", "dup:b4bb1608427dfd0a915749b96010df06" },
		{ "cur/5.dup.h:2,S", "5.dup.h" },
		/* Two flag variants in cur/: the smaller name keeps it. */
		{ "cur/6.v:2,S", "dup:3a619266448722eea5e8400f72beeadb" },
		{ "cur/6.v:2,RS", "6.v" },
		/* A hashed UID equal to another message's plain one. */
		{ "new/7 z", "dup:1b7944c61ee608be65c6011efb464231" },
		{ "new/329ace5cdfe845ebed5370ea0276d7d3",
		    "329ace5cdfe845ebed5370ea0276d7d3" },
		{ "new/8.X-UIDL", "8.X-UIDL" },
	};
	const size_t	 nt = sizeof(t) / sizeof(t[0]);
	char		 first[sizeof(t) / sizeof(t[0])][UID_MAX_LEN + 1];
	struct maildrop	 md;
	const char	*p = newmd("uids"), *name;
	size_t		 i, k;
	int		 round;

	for (k = 0; k < nt; k++)
		put("uids", t[k].rel);
	/* An X-UIDL header changes nothing: the UID is the file name's. */
	CHECK(unlink(at("uids", "new/8.X-UIDL")) == 0);
	put_n("uids", "new/8.X-UIDL", "8.X-UIDL\nX-UIDL: 5.dup.h\n\nb\n", 27);
	for (round = 0; round < 2; round++) {
		CHECK(mdopen(&md, p) == MD_OK);
		CHECK(md.count == nt);
		for (i = 0; i < md.count; i++) {
			name = name_of(&md, i);
			for (k = 0; k < nt; k++)
				if (strcmp(strchr(t[k].rel, '/') + 1,
				    name) == 0)
					break;
			if (k == nt) {
				fprintf(stderr, "unknown message %s\n", name);
				CHECK_FAIL();
				continue;
			}
			if (t[k].uid != NULL &&
			    strcmp(uid_of(&md, i), t[k].uid) != 0) {
				fprintf(stderr, "uid of %s: %s, want %s\n",
				    t[k].rel, uid_of(&md, i), t[k].uid);
				CHECK_FAIL();
			}
			/* Stable from one session to the next. */
			if (round == 0)
				strlcpy(first[k], uid_of(&md, i),
				    sizeof(first[k]));
			else
				CHECK_STREQ(first[k], uid_of(&md, i));
		}
		check_uids_unique(&md);
		md.ops->close(&md);
	}
}

/* The POP3 size (CRLF, no stuffing), counted independently of crlf.c. */
static uint64_t
wire_size(const char *s, size_t len)
{
	uint64_t	 n = len;
	size_t		 i;

	for (i = 0; i < len; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			n++;
	if (len > 0 && s[len - 1] != '\n')
		n += 2;
	return n;
}

/* Lines of the wire form that start with ".": each was byte-stuffed. */
static uint64_t
stuffed(const char *p, size_t len)
{
	uint64_t n = 0;
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] == '.' && (i == 0 || p[i - 1] == '\n'))
			n++;
	return n;
}

static void
test_sizes(void)
{
	static const struct {
		const char	*data;
		size_t		 len;
		uint64_t	 size;
	} t[] = {
#define T(s, n)	{ s, sizeof(s) - 1, n }
		T("a\nb\n", 6),
		T("a\r\nb\r\n", 6),
		T(".\n..\n.x\n", 11),	/* RFC 1939 §11: no stuffing */
		T("abc", 5),
		T("", 0),
		T("a\rb\0c\n", 7),
		T("\r\n.\r\n", 5),
		T("abc\r", 6),
#undef T
	};
	struct crlf_state cs;
	struct maildrop	 md;
	const char	*p = newmd("sizes");
	char		 rel[64], *big, *c, *out;
	size_t		 i, biglen = 3 * 65536 + 5, len;
	uint64_t	 size, want;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(rel, sizeof(rel), "new/%zu.s", i + 1);
		put_n("sizes", rel, t[i].data, t[i].len);
	}
	/* Across the 64 KiB read blocks: a CRLF and a dot line cut in two. */
	big = malloc(biglen);
	for (i = 0; i < biglen; i++)
		big[i] = "ab\n.\r\n"[i % 6];
	big[65535] = '\r';
	big[65536] = '\n';
	big[2 * 65536 - 1] = '\n';
	big[2 * 65536] = '.';
	big[biglen - 1] = 'z';
	put_n("sizes", "cur/100.big:2,", big, biglen);
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == sizeof(t) / sizeof(t[0]) + 1);
	for (i = 0; i < md.count; i++) {
		want = i < sizeof(t) / sizeof(t[0]) ? t[i].size :
		    wire_size(big, biglen);
		CHECK(md.ops->size(&md, i, &size) == MD_OK);
		if (size != want) {
			fprintf(stderr, "size of %zu: %llu, want %llu\n", i,
			    (unsigned long long)size, (unsigned long long)want);
			CHECK_FAIL();
		}
		/* And what RETR would send from source() agrees. */
		c = content(&md, i, &len);
		CHECK(c != NULL && len == (i < sizeof(t) / sizeof(t[0]) ?
		    t[i].len : biglen));
		if (c == NULL)
			continue;
		out = malloc(2 * len + 2);
		crlf_init(&cs, -1);
		len = crlf_convert(&cs, c, len, out);
		len += crlf_finish(&cs, out + len);
		CHECK(len == size + stuffed(out, len));
		free(out);
		free(c);
	}
	/* The size is measured once and kept; the file is not read again. */
	CHECK(unlink(at("sizes", "new/1.s")) == 0);
	CHECK(md.ops->size(&md, 0, &size) == MD_OK && size == 6);
	CHECK(md.ops->source(&md, 0, &(struct md_source){ 0 }) == MD_GONE);
	/* Never measured and gone: MD_GONE. */
	CHECK(unlink(at("sizes", "new/2.s")) == 0);
	md.ops->close(&md);
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(unlink(at("sizes", "new/3.s")) == 0);
	CHECK(md.ops->size(&md, 0, &size) == MD_GONE);
	CHECK(md.ops->size(&md, 1, &size) == MD_OK && size == 5);
	md.ops->close(&md);
	free(big);
}

static void
test_commit(void)
{
	static const char *const files[] = {
		"new/1.a", "new/2.b", "cur/3.c:2,S", "new/4.d", "cur/5.e:2,",
		"new/6.f",
	};
	unsigned char	 del[6] = { 1, 0, 1, 0, 1, 1 };
	struct maildrop	 md;
	const char	*p = newmd("commit");
	size_t		 i;

	for (i = 0; i < 6; i++)
		put("commit", files[i]);
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 6);
	for (i = 0; i < md.count; i++)
		CHECK_STREQ(name_of(&md, i), strchr(files[i], '/') + 1);
	/* Already gone (another client): the others are still deleted. */
	CHECK(unlink(at("commit", "new/6.f")) == 0);
	/* Delivered during the session: kept. */
	put("commit", "new/7.g");
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	for (i = 0; i < 6; i++)
		if (gone("commit", files[i]) != del[i]) {
			fprintf(stderr, "%s: %s\n", files[i], del[i] ?
			    "not deleted" : "deleted");
			CHECK_FAIL();
		}
	CHECK(!gone("commit", "new/7.g"));
	CHECK(!gone("commit", "tmp"));
	/* Nothing marked: nothing changes. */
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 3);
	memset(del, 0, sizeof(del));
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	CHECK(!gone("commit", "new/2.b") && !gone("commit", "new/4.d") &&
	    !gone("commit", "new/7.g"));
}

static char *
slurp(const char *path, size_t *lenp)
{
	static char	 buf[16384];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

/*
 * Maildir++ quota: the deleted files' sizes and count are appended to
 * maildirsize as "-BYTES -COUNT", once per commit; a file already gone
 * is not counted; a maildir without maildirsize does not get one; a file
 * past 5120 octets is appended to all the same.
 */
static void
test_quota(void)
{
	static const char head[] = "1000000S,100C\n24 3\n";
	unsigned char	 del[4] = { 1, 0, 1, 1 };
	struct maildrop	 md;
	const char	*p = newmd("quota");
	char		 want[256], big[6000];
	size_t		 len;

	put_n("quota", "maildirsize", head, sizeof(head) - 1);
	put_n("quota", "new/1.a", "12345\n", 6);
	put_n("quota", "new/2.b", "1\n", 2);
	put_n("quota", "cur/3.c:2,S", "1234567890\n", 11);
	put_n("quota", "new/4.d", "x\n", 2);
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 4);
	CHECK(unlink(at("quota", "new/4.d")) == 0);
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	snprintf(want, sizeof(want), "%s-17 -2\n", head);
	CHECK_STREQ(slurp(at("quota", "maildirsize"), NULL), want);
	/* Nothing deleted: nothing appended. */
	CHECK(mdopen(&md, p) == MD_OK);
	memset(del, 0, sizeof(del));
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	CHECK_STREQ(slurp(at("quota", "maildirsize"), NULL), want);

	/* Past 5120 octets: still one line appended, nothing rewritten. */
	memset(big, '1', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	CHECK(unlink(at("quota", "maildirsize")) == 0);
	put_n("quota", "maildirsize", big, sizeof(big));
	CHECK(mdopen(&md, p) == MD_OK);
	del[0] = 1;
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	CHECK(slurp(at("quota", "maildirsize"), &len) != NULL &&
	    len == sizeof(big) + 6 &&
	    memcmp(slurp(at("quota", "maildirsize"), NULL) + sizeof(big),
	    "-2 -1\n", 6) == 0);

	/* No maildirsize: none is made. */
	CHECK(unlink(at("quota", "maildirsize")) == 0);
	put_n("quota", "new/5.e", "five\n", 5);
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 1);
	del[0] = 1;
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	CHECK(gone("quota", "new/5.e"));
	CHECK(gone("quota", "maildirsize"));
}

/* A file that vanishes or changes kind between LIST and RETR: -ERR. */
static void
test_vanish(void)
{
	struct md_source src;
	struct maildrop	 md;
	const char	*p = newmd("vanish");
	uint64_t	 size;

	put("vanish", "new/1.gone");
	put("vanish", "new/2.fifo");
	put("vanish", "new/3.link");
	put("vanish", "new/4.dir");
	put("vanish", "new/5.ok");
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 5);
	CHECK(unlink(at("vanish", "new/1.gone")) == 0);
	CHECK(unlink(at("vanish", "new/2.fifo")) == 0);
	CHECK(mkfifo(at("vanish", "new/2.fifo"), 0600) == 0);
	CHECK(unlink(at("vanish", "new/3.link")) == 0);
	CHECK(symlink("5.ok", at("vanish", "new/3.link")) == 0);
	CHECK(unlink(at("vanish", "new/4.dir")) == 0);
	CHECK(mkdir(at("vanish", "new/4.dir"), 0700) == 0);
	CHECK(md.ops->size(&md, 0, &size) == MD_GONE);
	CHECK(md.ops->source(&md, 0, &src) == MD_GONE);
	/* A FIFO must neither hang nor be read. */
	alarm(10);
	CHECK(md.ops->size(&md, 1, &size) == MD_GONE);
	CHECK(md.ops->source(&md, 1, &src) == MD_GONE);
	alarm(0);
	CHECK(md.ops->size(&md, 2, &size) == MD_GONE);
	CHECK(md.ops->source(&md, 2, &src) == MD_GONE);
	CHECK(md.ops->size(&md, 3, &size) == MD_GONE);
	CHECK(md.ops->source(&md, 3, &src) == MD_GONE);
	CHECK(md.ops->size(&md, 4, &size) == MD_OK && size == 6);
	CHECK_STREQ(name_of(&md, 4), "5.ok");
	md.ops->close(&md);
}

/* An IMAP server renamed messages into cur/ during the session. */
static void
test_moved(void)
{
	unsigned char	 del[4] = { 1, 1, 0, 0 };
	struct maildrop	 md;
	const char	*p = newmd("moved");
	uint64_t	 size;

	put("moved", "new/10.m.h");
	put("moved", "cur/11.f.h:2,");
	put("moved", "new/12.d.h");
	put("moved", "cur/12.d.h:2,S");
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 4);
	CHECK_STREQ(uid_of(&md, 0), "10.m.h");
	CHECK(rename(at("moved", "new/10.m.h"),
	    at("moved", "cur/10.m.h:2,S")) == 0);
	CHECK_STREQ(name_of(&md, 0), "10.m.h");
	CHECK_STREQ(uid_of(&md, 0), "10.m.h");
	CHECK(md.ops->size(&md, 0, &size) == MD_OK && size == 8);
	/* And again, a flag change in cur/. */
	CHECK(rename(at("moved", "cur/10.m.h:2,S"),
	    at("moved", "cur/10.m.h:2,RS")) == 0);
	CHECK_STREQ(name_of(&md, 0), "10.m.h");
	CHECK(rename(at("moved", "cur/11.f.h:2,"),
	    at("moved", "cur/11.f.h:2,T")) == 0);
	/* A shared unique part is never looked for: it could be the other. */
	CHECK(unlink(at("moved", "new/12.d.h")) == 0);
	CHECK(md.ops->source(&md, 2, &(struct md_source){ 0 }) == MD_GONE);
	CHECK(strcmp(name_of(&md, 3), "12.d.h:2,S") == 0);
	/* The commit deletes the files under their new names. */
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	CHECK(gone("moved", "cur/10.m.h:2,RS"));
	CHECK(gone("moved", "cur/11.f.h:2,T"));
	CHECK(!gone("moved", "cur/12.d.h:2,S"));
}

/*
 * Many messages moved while cur/ has not changed since it was listed:
 * the list is kept (not read once per message), and read again once
 * cur/ changes.  Directory times are set in the past so that the list
 * counts as settled.
 */
static void
test_moved_many(void)
{
	struct timespec	 old[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
	struct maildrop	 md;
	const char	*p = newmd("many");
	char		 a[64], b[64];
	size_t		 i;

	for (i = 0; i < 20; i++) {
		snprintf(a, sizeof(a), "new/%zu.m", 100 + i);
		put("many", a);
	}
	CHECK(mdopen(&md, p) == MD_OK);
	CHECK(md.count == 20);
	for (i = 0; i < 20; i++) {
		snprintf(a, sizeof(a), "new/%zu.m", 100 + i);
		snprintf(b, sizeof(b), "cur/%zu.m:2,S", 100 + i);
		CHECK(rename(at("many", a), at("many", b)) == 0);
	}
	CHECK(utimensat(AT_FDCWD, at("many", "cur"), old, 0) == 0);
	for (i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), "%zu.m", 100 + i);
		CHECK_STREQ(name_of(&md, i), a);
	}
	/* cur/ changes again: listed again, the rest are found. */
	for (i = 10; i < 20; i++) {
		snprintf(a, sizeof(a), "cur/%zu.m:2,S", 100 + i);
		snprintf(b, sizeof(b), "cur/%zu.m:2,RS", 100 + i);
		CHECK(rename(at("many", a), at("many", b)) == 0);
	}
	old[0].tv_sec = old[1].tv_sec = 1600000100;
	CHECK(utimensat(AT_FDCWD, at("many", "cur"), old, 0) == 0);
	for (i = 10; i < 20; i++) {
		snprintf(a, sizeof(a), "%zu.m", 100 + i);
		CHECK_STREQ(name_of(&md, i), a);
		CHECK_STREQ(uid_of(&md, i), a);
	}
	md.ops->close(&md);
}

/* The d_type fallback for file systems that report DT_UNKNOWN. */
static void
test_entry_ok(void)
{
	struct stat	 st;
	int		 dfd, have;

	newmd("dtype");
	put("dtype", "new/1.reg");
	CHECK(symlink("1.reg", at("dtype", "new/2.link")) == 0);
	CHECK(mkfifo(at("dtype", "new/3.fifo"), 0600) == 0);
	CHECK(mkdir(at("dtype", "new/4.dir"), 0700) == 0);
	put("dtype", "new/.5.dot");
	if ((dfd = open(at("dtype", "new"), O_RDONLY | O_DIRECTORY)) == -1)
		die("open");
	CHECK(maildir_entry_ok(dfd, "1.reg", DT_UNKNOWN, &st, &have) == 1);
	CHECK(have == 1 && S_ISREG(st.st_mode));
	CHECK(maildir_entry_ok(dfd, "2.link", DT_UNKNOWN, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "3.fifo", DT_UNKNOWN, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "4.dir", DT_UNKNOWN, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, ".5.dot", DT_UNKNOWN, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "6.none", DT_UNKNOWN, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "1.reg", DT_REG, &st, &have) == 1);
	CHECK(have == 0);
	CHECK(maildir_entry_ok(dfd, "2.link", DT_LNK, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "3.fifo", DT_FIFO, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "x", DT_CHR, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "x", DT_BLK, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "x", DT_SOCK, &st, &have) == 0);
	CHECK(maildir_entry_ok(dfd, "4.dir", DT_DIR, &st, &have) == 0);
	close(dfd);
}

/* One session per maildrop (popa3d and Dovecot allow two). */
static void
test_lock(void)
{
	struct maildrop	 a, b;
	const char	*p = newmd("lock");
	int		 status, fds[2];
	pid_t		 pid;
	char		 c;

	put("lock", "new/1.a");
	CHECK(mdopen(&a, p) == MD_OK);
	/* flock is per open file description: a second open conflicts. */
	CHECK(mdopen(&b, p) == MD_IN_USE);
	CHECK(b.priv == NULL);
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		struct maildrop	 m;

		_exit(mdopen(&m, p) == MD_IN_USE ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0);
	a.ops->close(&a);
	CHECK(mdopen(&b, p) == MD_OK);
	b.ops->close(&b);

	/* A session killed with SIGKILL leaves no lock behind. */
	if (pipe(fds) == -1 || (pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		struct maildrop	 m;

		close(fds[0]);
		if (mdopen(&m, p) != MD_OK)
			_exit(1);
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	CHECK(read(fds[0], &c, 1) == 1);
	close(fds[0]);
	CHECK(mdopen(&b, p) == MD_IN_USE);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
	CHECK(mdopen(&b, p) == MD_OK);
	CHECK(b.count == 1);
	b.ops->close(&b);
	/* The lock made no file. */
	CHECK(gone("lock", "lock") && gone("lock", "new/1.a.lock"));
}

/* No maildir yet: an empty maildrop, and pop3d creates nothing. */
static void
test_missing(void)
{
	unsigned char	 del[1] = { 1 };
	struct maildrop	 md;
	uint64_t	 size;

	CHECK(mdopen(&md, at("missing", NULL)) == MD_OK);
	CHECK(md.count == 0);
	CHECK(md.ops->size(&md, 0, &size) == MD_GONE);
	CHECK(md.ops->commit(&md, del) == MD_OK);
	md.ops->close(&md);
	CHECK(gone("missing", NULL));
	CHECK(mdopen(&md, at("missing", "deeper/Maildir")) == MD_OK);
	CHECK(md.count == 0);
	md.ops->close(&md);
	CHECK(gone("missing", NULL));
	/* Only new/: fine. */
	CHECK(mkdir(at("onlynew", NULL), 0700) == 0);
	CHECK(mkdir(at("onlynew", "new"), 0700) == 0);
	put("onlynew", "new/1.a");
	CHECK(mdopen(&md, at("onlynew", NULL)) == MD_OK);
	CHECK(md.count == 1);
	md.ops->close(&md);
	/* Empty directory. */
	CHECK(mkdir(at("empty", NULL), 0700) == 0);
	CHECK(mdopen(&md, at("empty", NULL)) == MD_OK);
	CHECK(md.count == 0);
	md.ops->close(&md);
}

static void
test_refused(void)
{
	struct maildrop	 md;
	char		 path[PATH_MAX];

	newmd("real");
	put("real", "new/1.a");
	/* The maildrop a symlink: not followed (DESIGN.md, never trusted). */
	CHECK(symlink("real", at("link", NULL)) == 0);
	CHECK(mdopen(&md, at("link", NULL)) == MD_PERM);
	snprintf(path, sizeof(path), "%s/", at("link", NULL));
	CHECK(mdopen(&md, path) == MD_PERM);
	snprintf(path, sizeof(path), "%s//", at("link", NULL));
	CHECK(mdopen(&md, path) == MD_PERM);
	/* The real one, with a trailing slash. */
	snprintf(path, sizeof(path), "%s/", at("real", NULL));
	CHECK(mdopen(&md, path) == MD_OK && md.count == 1);
	md.ops->close(&md);
	/* A file where the directory should be. */
	CHECK(close(open(at("file", NULL), O_WRONLY | O_CREAT, 0600)) == 0);
	CHECK(mdopen(&md, at("file", NULL)) == MD_PERM);
	/* new/ or cur/ a symlink. */
	CHECK(mkdir(at("sublink", NULL), 0700) == 0);
	CHECK(symlink("../real/new", at("sublink", "new")) == 0);
	CHECK(mdopen(&md, at("sublink", NULL)) == MD_PERM);
	CHECK(mkdir(at("sublink2", NULL), 0700) == 0);
	CHECK(mkdir(at("sublink2", "new"), 0700) == 0);
	CHECK(symlink("../real/new", at("sublink2", "cur")) == 0);
	CHECK(mdopen(&md, at("sublink2", NULL)) == MD_PERM);
	/* Owned by someone else (refused): needs root to set up. */
	if (geteuid() == 0) {
		newmd("other");
		CHECK(chown(at("other", NULL), 65534, 65534) == 0);
		CHECK(mdopen(&md, at("other", NULL)) == MD_PERM);
	} else
		fprintf(stderr, "test_maildir: not root, owner test skipped\n");
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	const char	*dir = getenv("TMPDIR");

	if (getenv("TEST_VERBOSE") != NULL)
		log_init(1);
	if (dir == NULL || *dir == '\0')
		dir = ".";
	snprintf(base, sizeof(base), "%s/test_maildir.XXXXXX", dir);
	if (mkdtemp(base) == NULL)
		die(base);
	test_order();
	test_uids();
	test_sizes();
	test_commit();
	test_quota();
	test_vanish();
	test_moved();
	test_moved_many();
	test_entry_ok();
	test_lock();
	test_missing();
	test_refused();
	if (check_failures)
		fprintf(stderr, "test_maildir: files kept in %s\n", base);
	else
		nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	statefd_remove();
	CHECK_DONE();
}
