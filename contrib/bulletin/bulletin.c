/*
 * bulletin [-s STATEDIR] DIR
 *
 * An onlogin program (pop3d.conf: onlogin = .../bulletin DIR): delivers
 * each bulletin -- one complete RFC 5322 message per DIR/NAME.msg file --
 * once to the user who logs in, into the maildrop of POP3_MAILDROP, and
 * records it.  It runs as the user, so it can only ever touch that
 * user's maildrop and record.  The record is, with -s, STATEDIR/USER;
 * else, when pop3d gives a state directory (POP3_STATE_DIR, the user's
 * own, mode 0700), $POP3_STATE_DIR/bulletins; else (run by hand, or by
 * another program) beside the mail: MAILDIR/.pop3d-bulletins, or for an
 * mbox $POP3_HOME/.pop3d-bulletins.
 *
 * One line on standard output says what was done; pop3d logs it.  Exit
 * status 0, or 1 on any error (never 75: a bulletin problem must not
 * refuse logins unless onlogin-failure = deny says so).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulletin.h"
#include "bulletin_format.h"
#include "bulletin_record.h"
#include "xio.h"

#define RECORD_NAME	".pop3d-bulletins"
#define STATE_RECORD	"bulletins"	/* in $POP3_STATE_DIR */
#define USER_MAX	128

static char	 said[512];	/* names delivered, for the output line */

/* pop3d's name rules, re-checked: the name becomes a file name. */
static int
user_valid(const char *u)
{
	size_t	 n = strlen(u);

	return n > 0 && n <= USER_MAX && u[0] != '.' && u[0] != '-' &&
	    strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._+=@-") == n;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bulletin *)a)->name,
	    ((const struct bulletin *)b)->name);
}

/* DIR's bulletins, sorted by name (the order of delivery). */
static int
list_bulletins(const char *dir, struct bulletin **out, size_t *n)
{
	struct bulletin	*v = NULL, *nv;
	struct dirent	*de;
	DIR		*d;

	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return bulletin_error("%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!bulletin_name_valid(de->d_name))
			continue;
		if ((nv = reallocarray(v, *n + 1, sizeof(*v))) == NULL) {
			closedir(d);
			free(v);
			return bulletin_error("out of memory");
		}
		v = nv;
		memset(&v[*n], 0, sizeof(v[*n]));
		strlcpy(v[*n].name, de->d_name, sizeof(v[*n].name));
		(*n)++;
	}
	closedir(d);
	if (*n > 0)
		qsort(v, *n, sizeof(*v), name_cmp);
	*out = v;
	return 0;
}

static int
load_bulletin(const char *dir, struct bulletin *b)
{
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 fd;

	if (b->data != NULL)
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, b->name) >=
	    (int)sizeof(path))
		return bulletin_error("%s: path too long", dir);
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return bulletin_error("%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > BULLETIN_SIZE_MAX) {
		close(fd);
		return bulletin_error("%s: not a regular file of at most %d "
		    "octets", path, BULLETIN_SIZE_MAX);
	}
	b->len = (size_t)st.st_size;
	if ((b->data = malloc(b->len + 1)) == NULL ||
	    read_full(fd, b->data, b->len) != (ssize_t)b->len) {
		close(fd);
		return bulletin_error("%s: read failed", path);
	}
	close(fd);
	return 0;
}

struct target {
	int	 mbox;
	char	 path[PATH_MAX];
	char	 record[PATH_MAX];
};

/*
 * $POP3_STATE_DIR, if it is set and is what pop3d makes: an absolute
 * path of a directory of ours that no one else can write.  NULL when
 * unset; an error when it is set but not such a directory.
 */
static int
state_dir(const char **out)
{
	const char	*sd = getenv("POP3_STATE_DIR");
	struct stat	 st;

	*out = NULL;
	if (sd == NULL || sd[0] == '\0')
		return 0;
	if (sd[0] != '/')
		return bulletin_error("POP3_STATE_DIR: not an absolute path");
	if (lstat(sd, &st) == -1)
		return bulletin_error("POP3_STATE_DIR %s: %s", sd,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return bulletin_error("POP3_STATE_DIR %s: not a directory of "
		    "uid %lu that only it can write", sd,
		    (unsigned long)geteuid());
	*out = sd;
	return 0;
}

/* POP3_MAILDROP and the record's place (see the top of this file). */
static int
target_init(struct target *t, const char *statedir)
{
	const char	*md = getenv("POP3_MAILDROP");
	const char	*user = getenv("POP3_USER");
	const char	*home = getenv("POP3_HOME");
	const char	*sd;
	int		 n;

	if (md == NULL)
		return bulletin_error("POP3_MAILDROP not set");
	if (strncmp(md, "maildir:", 8) == 0)
		md += 8;
	else if (strncmp(md, "mbox:", 5) == 0) {
		md += 5;
		t->mbox = 1;
	} else
		return bulletin_error("POP3_MAILDROP: unknown format");
	if (md[0] != '/' || strlcpy(t->path, md, sizeof(t->path)) >=
	    sizeof(t->path))
		return bulletin_error("POP3_MAILDROP: not an absolute path");
	if (statedir != NULL) {
		if (user == NULL || !user_valid(user))
			return bulletin_error("POP3_USER missing or invalid");
		n = snprintf(t->record, sizeof(t->record), "%s/%s", statedir,
		    user);
		goto done;
	}
	if (state_dir(&sd) == -1)
		return -1;
	if (sd != NULL)
		n = snprintf(t->record, sizeof(t->record), "%s/%s", sd,
		    STATE_RECORD);
	else if (!t->mbox) {
		/* The record lives in the maildir, which may not exist yet. */
		if (mkdir(t->path, 0700) == -1 && errno != EEXIST)
			return bulletin_error("maildir %s: %s", t->path,
			    strerror(errno));
		n = snprintf(t->record, sizeof(t->record), "%s/%s", t->path,
		    RECORD_NAME);
	} else if (home != NULL && home[0] == '/')
		n = snprintf(t->record, sizeof(t->record), "%s/%s", home,
		    RECORD_NAME);
	else
		return bulletin_error("mbox without a home directory: "
		    "use -s STATEDIR");
done:
	if (n < 0 || (size_t)n >= sizeof(t->record))
		return bulletin_error("record path too long");
	return 0;
}

static int
deliver(const struct target *t, struct record *r, const struct bulletin *b,
    const struct pending *p)
{
	if (t->mbox)
		return bulletin_mbox_deliver(t->path, r, b, p);
	return bulletin_maildir_deliver(t->path, r, b, p);
}

static void
said_add(const char *name)
{
	if (said[0] != '\0')
		strlcat(said, " ", sizeof(said));
	strlcat(said, name, sizeof(said));
}

static struct bulletin *
find(struct bulletin *v, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

/* First what a killed run left pending, then what is new, in order. */
static int
run(const char *dir, const struct target *t, struct record *r,
    struct bulletin *v, size_t n)
{
	struct pending	*pend;
	struct bulletin	*b;
	size_t		 i, np = r->npend;
	int		 rc;

	if (np > 0) {
		if ((pend = calloc(np, sizeof(*pend))) == NULL)
			return bulletin_error("out of memory");
		memcpy(pend, r->pend, np * sizeof(*pend));
		for (i = 0; i < np; i++) {
			b = find(v, n, pend[i].name);
			if (b != NULL && load_bulletin(dir, b) == -1)
				b = NULL;	/* repaired, not delivered */
			if ((rc = deliver(t, r, b, &pend[i])) == -1) {
				free(pend);
				return -1;
			}
			if (rc == 1)
				said_add(pend[i].name);
		}
		free(pend);
	}
	for (i = 0; i < n; i++) {
		if (bulletin_record_done(r, v[i].name))
			continue;
		if (load_bulletin(dir, &v[i]) == -1 ||
		    (rc = deliver(t, r, &v[i], NULL)) == -1)
			return -1;
		if (rc == 1)
			said_add(v[i].name);
	}
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	printf("usage: bulletin [-s statedir] dir\n");
	exit(BULLETIN_EX_USAGE);
}

int
main(int argc, char **argv)
{
	struct target	 t;
	struct record	 r;
	struct bulletin	*v = NULL;
	const char	*statedir = NULL;
	size_t		 n = 0, i;
	int		 ch, rc = -1;

	while ((ch = getopt(argc, argv, "s:")) != -1) {
		if (ch != 's' || optarg[0] != '/')
			usage();
		statedir = optarg;
	}
	if (optind != argc - 1)
		usage();
	memset(&t, 0, sizeof(t));
	memset(&r, 0, sizeof(r));
	r.fd = -1;
	if (target_init(&t, statedir) == 0 &&
	    list_bulletins(argv[optind], &v, &n) == 0 &&
	    bulletin_record_open(&r, t.record) == 0)
		rc = run(argv[optind], &t, &r, v, n);
	bulletin_record_close(&r);
	for (i = 0; i < n; i++)
		free(v[i].data);
	free(v);
	if (rc == 0 && said[0] == '\0')
		printf("bulletin: nothing new\n");
	else if (rc == 0)
		printf("bulletin: delivered %s\n", said);
	else
		printf("bulletin: %s%s%serror: %s\n", said[0] ? "delivered " :
		    "", said, said[0] ? "; " : "", bulletin_error_text());
	return rc == 0 ? BULLETIN_EX_OK : BULLETIN_EX_FAIL;
}
