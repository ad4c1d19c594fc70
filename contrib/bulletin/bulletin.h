/*
 * bulletin(8): an onlogin program that delivers each bulletin of a
 * directory once to each user (docs/onlogin.md has the recipe).
 *
 *   bulletin.c		main: the bulletins, the order of the work, output
 *   bulletin_record.c	the per-user record: what was delivered, and what
 *			was being delivered when a run was killed
 *   bulletin_maildir.c	delivery into a maildir (tmp/, then new/)
 *   bulletin_mbox.c	delivery into an mbox (dotlock + fcntl, as pop3d)
 *
 * Exactly-once rests on three things: one run at a time per user (an
 * exclusive flock on the record), a "pending" line written to the record
 * before the maildrop is touched and a "done" line after, and a repair of
 * any pending delivery at the start of the next run that can only ever
 * conclude "delivered" or "certainly not there" (see the two formats).
 */
#ifndef BULLETIN_H
#define BULLETIN_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#define BULLETIN_NAME_MAX	64		/* "welcome.msg" */
#define BULLETIN_SIZE_MAX	(16 * 1024 * 1024)
/* Deliveries that one record can hold (lines are ~40 octets). */
#define BULLETIN_RECORD_MAX	(4 * 1024 * 1024)

/* Exit statuses: never 75, which would refuse the login. */
#define BULLETIN_EX_OK		0
#define BULLETIN_EX_FAIL	1
#define BULLETIN_EX_USAGE	64

struct bulletin {
	char		 name[BULLETIN_NAME_MAX + 1];
	char		*data;		/* the message, as in the file */
	size_t		 len;
};

/* A delivery that a killed run left unfinished. */
struct pending {
	char		 name[BULLETIN_NAME_MAX + 1];
	int		 mbox;		/* the fields below are set */
	dev_t		 dev;
	ino_t		 ino;
	unsigned long long off;		/* mbox size before the append */
	unsigned long long len;		/* octets appended */
};

struct record {
	int		 fd;
	char		 path[PATH_MAX];
	char		 stage[PATH_MAX + 2];	/* mbox: the bytes appended */
	char		*done;		/* "name\n" ... of delivered ones */
	size_t		 donelen;
	struct pending	*pend;
	size_t		 npend;
};

/* bulletin.c */
/* Keeps the first error for the output line; returns -1. */
int	bulletin_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* Test hook: BULLETIN_CRASH=POINT in the environment kills us there. */
void	bulletin_crash_point(const char *point);
int	bulletin_crash_wanted(const char *point);
int	bulletin_name_valid(const char *name);

/* bulletin_record.c */
/* Opens (creating it 0600) and locks the record; reads it. */
int	bulletin_record_open(struct record *, const char *path);
int	bulletin_record_done(const struct record *, const char *name);
/* The last pending delivery of name not followed by a done line. */
const struct pending *bulletin_record_pending(const struct record *,
	    const char *name);
/* Appends one line and syncs it to disk before returning. */
int	bulletin_record_add(struct record *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	bulletin_record_close(struct record *);

/*
 * The formats.  deliver() brings the bulletin to the maildrop exactly
 * once, given the pending entry a killed run left (or NULL), and writes
 * the record's "done" line.  The bulletin is NULL when it was removed
 * from DIR since: the pending entry is only repaired.  Returns 1 when
 * it delivered, 0 when the bulletin was there already (or cannot be
 * told to be absent), -1 on error (bulletin_error() called).
 */
int	bulletin_maildir_deliver(const char *path, struct record *,
	    const struct bulletin *, const struct pending *);
int	bulletin_mbox_deliver(const char *path, struct record *,
	    const struct bulletin *, const struct pending *);

#endif
