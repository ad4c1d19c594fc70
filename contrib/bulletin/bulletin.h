/*
 * bulletin(8): an onlogin program that delivers each bulletin of a
 * directory once to each user (docs/onlogin.md has the recipe).
 *
 *   bulletin.c		main: the bulletins, the order of the work, output
 *   bulletin_common.c	what every part uses: the first error, the test
 *			crash points, the bulletin name rule (this header)
 *   bulletin_record.c	the per-user record: what was delivered, and what
 *			was being delivered when a run was killed
 *			(bulletin_record.h)
 *   bulletin_maildir.c	delivery into a maildir (tmp/, then new/)
 *   bulletin_mbox.c	delivery into an mbox (dotlock + fcntl, as pop3d)
 *			(both: bulletin_format.h)
 *
 * The headers go one way: bulletin.h <- bulletin_record.h <-
 * bulletin_format.h; only bulletin.c includes them all.
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

/* bulletin_common.c */
/* Keeps the first error for the output line; returns -1. */
int	bulletin_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* The first error kept, "" when none. */
const char *bulletin_error_text(void);
/* Test hook: BULLETIN_CRASH=POINT in the environment kills us there. */
void	bulletin_crash_point(const char *point);
int	bulletin_crash_wanted(const char *point);
int	bulletin_name_valid(const char *name);

#endif
