/*
 * The per-user record of bulletin(8) (bulletin_record.c): what was
 * delivered, and what a killed run left pending.
 */
#ifndef BULLETIN_RECORD_H
#define BULLETIN_RECORD_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#include "bulletin.h"

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

#endif
