/*
 * The state of an open maildir and the entry helpers (maildir_entry.c),
 * the lowest layer of the maildir format: maildir.c (open, scan, order,
 * UIDs, commit) and maildir_file.c (per-message file access,
 * maildir_file.h) build on it; it includes neither's header.  Nothing
 * outside the maildir files (and their unit test) includes it.
 */
#ifndef POP3D_MAILDIR_PRIV_H
#define POP3D_MAILDIR_PRIV_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "maildrop.h"

#define MAILDIR_NEW	0
#define MAILDIR_CUR	1

/* Largest value of the 62-bit size field (also the sort key at open). */
#define MAILDIR_SIZE_MAX	((UINT64_C(1) << 62) - 1)

/*
 * One message: 16 bytes.  Most maildrops are read with UIDL and RETR
 * only, so nothing is read from the files at open; the size is measured
 * on first demand and kept.  During open, before any size is known, the
 * size field holds the delivery time used to sort.
 */
struct maildir_msg {
	uint64_t	 size:62;	/* octets RETR sends; at open: time */
	uint64_t	 known:1;	/* size has been measured */
	uint64_t	 cur:1;		/* in cur/, else in new/ */
	uint32_t	 name;		/* file name: offset into the arena */
	uint32_t	 dup:1;		/* unique part shared: derived UID */
};

/* cur/ by unique part, listed when a message is not where it was. */
struct maildir_curlist {
	char		*arena;
	size_t		 used, cap;
	uint32_t	*idx;		/* offsets, sorted by unique part */
	size_t		 n, ncap;
	struct timespec	 mtime;		/* of cur/ when read */
	int		 valid;
	int		 settled;	/* cur/ was unchanged for a second */
};

struct maildir {
	int		 dirfd;		/* the maildir */
	int		 lockfd;	/* the session lock (statedir.h) */
	int		 subfd[2];	/* new/, cur/ */
	struct maildir_msg *msgs;
	size_t		 n, ncap;
	char		*arena;		/* NUL-terminated file names */
	size_t		 used, cap;
	char		*buf;		/* read buffer, made on first size() */
	struct crlf_state vcs;		/* RETR/TOP: counting what is sent */
	uint64_t	 vsize;
	struct maildir_curlist moved;
	char		 path[];	/* escaped, for log lines */
};

static inline const char *
maildir_name(const struct maildir *m, size_t i)
{
	return m->arena + m->msgs[i].name;
}

/* Maildir names are "UNIQUE[:INFO]"; the unique part survives renames. */
static inline size_t
maildir_unique_len(const char *name)
{
	return strcspn(name, ":");
}

/* maildir_entry.c: the entry helpers. */
/* Compares the unique parts of two names, like strcmp. */
int	maildir_unique_cmp(const char *, const char *);

/* Appends a NUL-terminated name to an arena; the offset, or -1. */
int64_t	maildir_arena_add(char **arena, size_t *used, size_t *cap,
	    const char *name);

/*
 * Whether a directory entry is served: a regular file whose name does not
 * start with '.' (DESIGN.md "Mail formats and locking").  Fills *st and sets
 * *have_st when it had to stat.  Returns 1 to take it, 0 to skip it.
 */
int	maildir_entry_ok(int dfd, const char *name, unsigned char d_type,
	    struct stat *st, int *have_st);

char	*maildir_log_name(const char *name, char *buf, size_t len);

#endif
