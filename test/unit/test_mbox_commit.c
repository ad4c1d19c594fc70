/*
 * The mbox commit under fault injection (docs/mbox.md "Commit").  For
 * several mboxes and deletion patterns, with and without mail delivered
 * during the session, the commit is run once to count its file-changing
 * calls (mbox_io.c), then again failing each call in turn with EIO,
 * ENOSPC and EFBIG (after half of a write), and again killing the
 * process with SIGKILL at each call, with more mail delivered after the
 * crash.  After each: every kept message and all new mail is there
 * byte-exact, once, in order; the deleted ones are either all there or
 * all gone; the file parses; the next open and commit work and leave no
 * file of ours behind.  Plus: a file changed under the session makes the
 * commit delete nothing, and a file-size limit fails before any change.
 */
#include <sys/resource.h>

#include <signal.h>

#include "log.h"
#include "test/unit/mbox_test.h"

static char	 dir[256];
static char	 path[512];

#define NMSG	5
static char	*base[NMSG];
static const char *const newmail = "X: new\n\nduring the session\n";
static const char *const aftermail = "X: after\n\ndelivered after a crash\n";

static const unsigned char patterns[][NMSG] = {
	{ 1, 0, 0, 0, 0 },
	{ 0, 1, 0, 0, 0 },
	{ 0, 0, 0, 0, 1 },
	{ 1, 1, 1, 1, 1 },
	{ 1, 0, 1, 0, 1 },
	{ 0, 1, 1, 1, 1 },
	{ 1, 1, 0, 1, 0 },
};
#define NPAT	(sizeof(patterns) / sizeof(patterns[0]))

static void
make_base(void)
{
	size_t	 i, n = 300 * 1024;
	char	*big = malloc(n + 32);

	base[0] = strdup("X: 0\n\nzero\n");
	base[1] = strdup("X: 1\r\n\r\none\r\n.dot\r\n");
	base[2] = strdup("X: 2\n\n.dot\n>From x\n\xff\xfe 8-bit\n\n\n");
	memcpy(big, "X: 3\n\n", 6);
	for (i = 6; i < n; i++)
		big[i] = i % 72 == 71 ? '\n' : 'a' + i % 26;
	memcpy(big + n, "\nend\n", 6);
	base[3] = big;
	base[4] = strdup("X: 4\n\nfour\n");
}

static void
setup(void)
{
	size_t	 i;
	char	 from[8];

	t_write(path, "", 0, 0);
	for (i = 0; i < NMSG; i++) {
		snprintf(from, sizeof(from), "m%zu", i);
		t_append_msg(path, from, base[i]);
	}
}

/* Expected texts: all or kept messages, then the extra ones. */
static size_t
expect(const char **out, const unsigned char *del, int applied, int nnew,
    int after)
{
	size_t	 i, n = 0;

	for (i = 0; i < NMSG; i++)
		if (!applied || !del[i])
			out[n++] = base[i];
	if (nnew)
		out[n++] = newmail;
	if (after)
		out[n++] = aftermail;
	return n;
}

/* The file as it is, parsed without recovery: does it hold texts? */
static int
raw_holds(const char *const *texts, size_t n)
{
	struct mbox_scan	 s;
	struct stat		 sb;
	char			*buf;
	size_t			 i;
	int			 fd, ok;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &sb) == -1)
		return 0;
	ok = mbox_scan_fd(fd, (uint64_t)sb.st_size, SIZE_MAX, &s, NULL) ==
	    MBOX_SCAN_OK && s.count == n;
	for (i = 0; ok && i < n; i++) {
		buf = malloc(s.msgs[i].rawlen + 1);
		ok = s.msgs[i].rawlen == strlen(texts[i]) &&
		    pread_full(fd, buf, s.msgs[i].rawlen,
		    (off_t)(s.msgs[i].from + s.msgs[i].fromlen)) ==
		    (ssize_t)s.msgs[i].rawlen &&
		    memcmp(buf, texts[i], s.msgs[i].rawlen) == 0;
		free(buf);
	}
	free(s.msgs);
	close(fd);
	return ok;
}

static unsigned long	 last_calls;

/* Open, deliver during the session, arm the fault, commit. */
static enum md_status
session(const unsigned char *del, int nnew, unsigned long fault, int err)
{
	struct maildrop	 md;
	enum md_status	 st;

	if (t_open(&md, path) != MD_OK || md.count != NMSG) {
		t_close(&md);
		return (enum md_status)-1;
	}
	if (nnew)
		t_append_msg(path, "new", newmail);
	mbox_io_fault(fault, err);
	st = md.ops->commit(&md, del);
	last_calls = mbox_io_calls();
	mbox_io_fault(0, 0);
	t_close(&md);
	return st;
}

/* After any outcome: the next session can delete and leaves nothing. */
static int
next_session_ok(const char *const *texts, size_t n)
{
	struct maildrop	 md;
	unsigned char	 del[NMSG + 2] = { 1 };

	if (t_journals(dir) != 0 || n == 0)
		return t_journals(dir) == 0;
	if (t_open(&md, path) != MD_OK || md.count != n ||
	    md.ops->commit(&md, del) != MD_OK) {
		t_close(&md);
		return 0;
	}
	t_close(&md);
	return t_holds(path, texts + 1, n - 1) &&
	    t_journals(dir) == 0;
}

static int	 verbose;

static void
fail_at(const unsigned char *del, int nnew, unsigned long k, int err)
{
	const char	*before[NMSG + 2], *after[NMSG + 2];
	size_t		 nb, na;
	enum md_status	 st;
	int		 ok;

	nb = expect(before, del, 0, nnew, 0);
	na = expect(after, del, 1, nnew, 0);
	setup();
	st = session(del, nnew, k, err);
	ok = st == MD_OK ? raw_holds(after, na) :
	    raw_holds(before, nb) || raw_holds(after, na) ||
	    t_journals(dir) == 1;
	if (ok && st == MD_OK)
		ok = t_holds(path, after, na) && next_session_ok(after, na);
	else if (ok && t_holds(path, after, na))
		ok = next_session_ok(after, na);
	else if (ok)
		ok = t_holds(path, before, nb) && next_session_ok(before, nb);
	if (!ok || verbose)
		fprintf(stderr, "pattern %d%d%d%d%d new %d: call %lu errno %d: "
		    "status %d %s\n", del[0], del[1], del[2], del[3], del[4],
		    nnew, k, err, st, ok ? "ok" : "FAILED");
	CHECK(ok);
}

struct killarg {
	const unsigned char	*del;
	int			 nnew;
	unsigned long		 k;
};

static int
kill_child(void *arg)
{
	struct killarg	*a = arg;

	(void)session(a->del, a->nnew, a->k, 0);
	return 3;	/* not killed: fewer calls than k */
}

static void
kill_at(const unsigned char *del, int nnew, unsigned long k)
{
	struct killarg	 a = { del, nnew, k };
	const char	*before[NMSG + 2], *after[NMSG + 2];
	size_t		 nb, na;
	int		 r, ok;

	nb = expect(before, del, 0, nnew, 1);
	na = expect(after, del, 1, nnew, 1);
	setup();
	r = t_child(kill_child, &a);
	/* An MDA delivers while the dead session's record is pending. */
	t_append_msg(path, "after", aftermail);
	ok = r == 128 + SIGKILL;
	if (ok && t_holds(path, after, na))
		ok = next_session_ok(after, na);
	else if (ok)
		ok = t_holds(path, before, nb) && next_session_ok(before, nb);
	if (!ok || verbose)
		fprintf(stderr, "pattern %d%d%d%d%d new %d: SIGKILL at call %lu:"
		    " child %d %s\n", del[0], del[1], del[2], del[3], del[4],
		    nnew, k, r, ok ? "ok" : "FAILED");
	CHECK(ok);
}

/*
 * A commit killed at call k, then a MUA rewrites the file in place (same
 * inode: an expunge) and three messages are delivered.  A record left
 * by the kill no longer matches the file: the next open refuses it and
 * writes nothing; without a record the open serves the file.  Either
 * way, nothing the MUA kept or the MDA delivered is lost.
 */
static const char *const mua_kept = "X: mua\n\nkept by the MUA\n";

static void
stale_at(const unsigned char *del, unsigned long k)
{
	static const char *const want[] = { "X: mua\n\nkept by the MUA\n",
	    "X: d0\n\nafter\n", "X: d1\n\nafter\n", "X: d2\n\nafter\n" };
	struct killarg	 a = { del, 0, k };
	struct maildrop	 md;
	char		 before[4096], after[4096], mua[256];
	size_t		 n, m;
	int		 r, record, fd;
	enum md_status	 st;

	setup();
	r = t_child(kill_child, &a);
	record = t_records(dir) > 0;
	m = t_msg(mua, sizeof(mua), "mua", mua_kept);
	CHECK((fd = open(path, O_WRONLY | O_TRUNC)) != -1 &&
	    write(fd, mua, m) == (ssize_t)m && close(fd) == 0);
	t_append_msg(path, "d0", want[1]);
	t_append_msg(path, "d1", want[2]);
	t_append_msg(path, "d2", want[3]);
	n = t_read(path, before, sizeof(before));
	st = t_open(&md, path);
	t_close(&md);
	if (record) {
		CHECK(st == MD_TEMP);
		CHECK(t_read(path, after, sizeof(after)) == n &&
		    memcmp(before, after, n) == 0);
		/* The administrator removes the record: all is there. */
		t_rmdir_names(dir);
	}
	if (r != 128 + SIGKILL || !t_holds(path, want, 4))
		fprintf(stderr, "stale record, pattern %d%d%d%d%d, SIGKILL at "
		    "call %lu: child %d, record %d, open %d\n", del[0], del[1],
		    del[2], del[3], del[4], k, r, record, st);
	CHECK(r == 128 + SIGKILL && t_holds(path, want, 4));
}

static void
test_stale_records(void)
{
	unsigned long	 calls, k, refused = 0;
	size_t		 p;

	for (p = 0; p < NPAT; p++) {
		setup();
		CHECK(session(patterns[p], 0, 0, 0) == MD_OK);
		calls = last_calls;
		for (k = 1; k <= calls; k++) {
			stale_at(patterns[p], k);
			refused++;
		}
	}
	printf("stale records: %lu kill points, then an in-place rewrite "
	    "and three deliveries\n", refused);
}

static void
test_faults(void)
{
	static const int errs[] = { EIO, ENOSPC, EFBIG };
	const char	*after[NMSG + 2];
	unsigned long	 calls, k, total = 0;
	size_t		 p, e, na;
	int		 nnew;

	for (p = 0; p < NPAT; p++)
		for (nnew = 0; nnew < 2; nnew++) {
			setup();
			CHECK(session(patterns[p], nnew, 0, 0) == MD_OK);
			calls = last_calls;
			na = expect(after, patterns[p], 1, nnew, 0);
			CHECK(t_holds(path, after, na));
			CHECK(t_journals(dir) == 0);
			for (k = 1; k <= calls; k++) {
				for (e = 0; e < 3; e++)
					fail_at(patterns[p], nnew, k, errs[e]);
				kill_at(patterns[p], nnew, k);
			}
			total += calls;
		}
	printf("fault injection: %lu failure points, each with EIO, ENOSPC, "
	    "EFBIG and SIGKILL\n", total);
	CHECK(total > 50);
}

/* Another program changed the scanned part: nothing is deleted. */
static void
test_changed(void)
{
	static const unsigned char del[NMSG] = { 1, 1, 1, 1, 1 };
	const char	*all[NMSG + 2];
	struct maildrop	 md;
	char		 buf[400000], other[600];
	size_t		 n, na = expect(all, del, 0, 0, 0);

	/* Same length, one byte different (a MUA's flag change). */
	setup();
	CHECK(t_open(&md, path) == MD_OK);
	n = t_read(path, buf, sizeof(buf));
	buf[strlen("From m0 Sat Nov 21 08:40:00 2025\nX: ")] = '9';
	t_write(path, buf, n, 0);
	CHECK(md.ops->commit(&md, del) == MD_TEMP);
	t_close(&md);
	base[0][3] = '9';
	CHECK(t_holds(path, all, na));
	base[0][3] = '0';

	/* Replaced by rename (a MUA that rewrites to a temp file). */
	setup();
	CHECK(t_open(&md, path) == MD_OK);
	snprintf(other, sizeof(other), "%s/other", dir);
	n = t_read(path, buf, sizeof(buf));
	t_write(other, buf, n, 0);
	CHECK(rename(other, path) == 0);
	CHECK(md.ops->commit(&md, del) == MD_TEMP);
	t_close(&md);
	CHECK(t_holds(path, all, na));

	/* Truncated. */
	setup();
	CHECK(t_open(&md, path) == MD_OK);
	CHECK(truncate(path, 100) == 0);
	CHECK(md.ops->commit(&md, del) == MD_TEMP);
	t_close(&md);
	CHECK(t_journals(dir) == 0);

	/* The last message grew without a From_ line, and is deleted. */
	setup();
	CHECK(t_open(&md, path) == MD_OK);
	t_write(path, "more text\n", 10, 1);
	CHECK(md.ops->commit(&md, del) == MD_TEMP);
	t_close(&md);
	/* Blank lines only: a late separator goes with its message. */
	setup();
	CHECK(t_open(&md, path) == MD_OK);
	t_write(path, "\n\n", 2, 1);
	t_append_msg(path, "new", newmail);
	CHECK(md.ops->commit(&md, del) == MD_OK);
	t_close(&md);
	CHECK(t_holds(path, &newmail, 1));
	CHECK(t_journals(dir) == 0);
	/*
	 * The same with the new From_ line across two of the reads of the
	 * commit (256 KiB each, from the scanned end): still blank before.
	 */
	{
		size_t	 nl = MBOX_BUFSZ - 3;
		char	*blanks = malloc(nl);

		CHECK(blanks != NULL);
		memset(blanks, '\n', nl);
		setup();
		CHECK(t_open(&md, path) == MD_OK);
		t_write(path, blanks, nl, 1);
		t_append_msg(path, "new", newmail);
		CHECK(md.ops->commit(&md, del) == MD_OK);
		t_close(&md);
		CHECK(t_holds(path, &newmail, 1));
		free(blanks);
	}
}

static int
fsize_child(void *arg)
{
	static const unsigned char del[NMSG] = { 1, 0, 0, 0, 0 };
	struct rlimit	 rl = { 4096, 4096 };

	(void)arg;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1)
		return 2;
	return session(del, 0, 0, 0) == MD_TEMP ? 0 : 1;
}

static void
test_fsize(void)
{
	static const unsigned char del[NMSG] = { 1, 0, 0, 0, 0 };
	const char	*all[NMSG + 2];
	size_t		 na = expect(all, del, 0, 0, 0);

	setup();
	CHECK(t_child(fsize_child, NULL) == 0);
	CHECK(t_holds(path, all, na));
	CHECK(t_journals(dir) == 0);
}

/* A damaged record is left alone and the maildrop not served. */
static void
test_bad_record(void)
{
	struct maildrop	 md;
	char		 rec[600];

	char		 key[STATEDIR_KEY_MAX];
	int		 fd;

	setup();
	CHECK((fd = open(path, O_RDONLY)) != -1 && statedir_key(fd, key) == 0);
	close(fd);
	snprintf(rec, sizeof(rec), "%s/state/%s.journal", dir, key);
	t_write(rec, "garbage", 7, 0);
	CHECK(t_open(&md, path) == MD_TEMP);
	t_close(&md);
	unlink(rec);
}

int
main(void)
{
	verbose = getenv("MBOX_TEST_VERBOSE") != NULL;
	log_init(verbose);
	make_base();
	t_mkdir(dir, sizeof(dir), "commit");
	snprintf(path, sizeof(path), "%s/user", dir);
	test_changed();
	test_fsize();
	test_bad_record();
	test_faults();
	test_stale_records();
	t_rmdir(dir);
	CHECK_DONE();
}
