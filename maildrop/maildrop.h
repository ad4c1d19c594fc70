/*
 * Maildrop formats behind one interface (a table of ops).  A format scans
 * the maildrop at open, reports per-message size and unique id, hands out
 * a byte range of the stored message for RETR/TOP, and applies deletions
 * at commit.  Deletion marks, RSET and counting live in the session, not
 * here.  All of it runs as the mail user, never as root.
 */
#ifndef POP3D_MAILDROP_H
#define POP3D_MAILDROP_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2449 §6.6 ... RFC 1939 §7: a unique-id is 1 to 70 octets 0x21-0x7E. */
#define UID_MAX_LEN	70

/* Limits (DESIGN.md "Limits and why"): beyond them open fails with MD_PERM. */
#define MAILDROP_MAX_MESSAGES	1000000

enum md_status {
	MD_OK = 0,
	MD_IN_USE,	/* another session holds the maildrop: [IN-USE] */
	MD_TEMP,	/* try again later: [SYS/TEMP] */
	MD_PERM,	/* refused for good (symlink, wrong owner): [SYS/PERM] */
	MD_GONE,	/* this message vanished under us */
};

/* A byte range of a stored message, to be sent with CRLF and stuffing. */
struct md_source {
	int		 fd;
	uint64_t	 offset;
	uint64_t	 length;
	int		 close_fd;	/* the session closes fd when done */
};

struct maildrop;

struct maildrop_ops {
	const char	*name;		/* "mbox", "maildir" */
	/*
	 * Opens the maildrop (as the user: never created, never through a
	 * symlink) and takes the session lock in md->statefd: MD_IN_USE
	 * when another session holds it.  Nothing is read yet.
	 */
	enum md_status	(*lock)(struct maildrop *, const char *path);
	/* After lock: scans; fills md->count. */
	enum md_status	(*open)(struct maildrop *);
	/*
	 * RFC 1939 §11: the message's octets with CRLF line ends and without
	 * the byte-stuffing, i.e. what the client stores; RETR's "+OK".
	 */
	enum md_status	(*size)(struct maildrop *, size_t i, uint64_t *size);
	/* NUL-terminated unique id, 1..UID_MAX_LEN printable octets. */
	enum md_status	(*uid)(struct maildrop *, size_t i,
			    char out[UID_MAX_LEN + 1]);
	/*
	 * The stored range of message i for RETR/TOP; also starts the check
	 * that verify() ends.  MD_GONE when the message is already seen not
	 * to be there any more.
	 */
	enum md_status	(*source)(struct maildrop *, size_t i,
			    struct md_source *);
	/*
	 * Optional (NULL: nothing to check).  Never serve wrong bytes: RETR
	 * and TOP pass every block they read of the range source() gave, in
	 * order, before sending it, then call it once more with buf NULL
	 * and n 1 when the whole range was read, 0 when TOP stopped early.
	 * -1 (logged): the bytes are not those of the message counted at
	 * open; the session then hangs up before the final "." line, so the
	 * client stores nothing, and ends without committing.
	 */
	int		(*verify)(struct maildrop *, size_t i, const void *buf,
			    size_t n);
	/*
	 * UPDATE state (RFC 1939 §6): removes the messages whose deleted[i]
	 * is set.  Nothing is lost whatever happens; MD_TEMP if nothing
	 * was changed because the maildrop changed under us.
	 */
	enum md_status	(*commit)(struct maildrop *, const unsigned char *deleted);
	/* Releases locks and memory; no change to the maildrop. */
	void		(*close)(struct maildrop *);
	/*
	 * Outside any session, as the user: finishes what a session that
	 * died left half done (mbox: an interrupted commit), unless another
	 * session holds the maildrop.  NULL: the format leaves nothing so.
	 */
	enum md_status	(*recover)(int statefd, const char *path);
};

struct maildrop {
	const struct maildrop_ops *ops;
	/*
	 * Set by the session before lock: the user's directory in
	 * state-dir (statedir.h), where a format keeps all it keeps about
	 * the maildrop: the session lock, mbox's recovery record.
	 */
	int		 statefd;
	size_t		 count;
	void		*priv;		/* the format's own state */
};

/* lock, then open: a failed one leaves nothing to close. */
enum md_status maildrop_open(struct maildrop *, const char *path);

/*
 * The session lock of both formats (DESIGN.md "The session lock"): the
 * key of the maildrop open on fd (statedir_key) into key, the lock into
 * *lockfd.  MD_IN_USE when another session holds it; MD_TEMP (logged)
 * when it cannot be taken, since going on without it could let two
 * sessions serve and commit one maildrop.
 */
enum md_status maildrop_lock_session(int statefd, int fd, const char *what,
	    char *key, int *lockfd);

/* The format named `name` ("mbox", "maildir"), or NULL if not built. */
const struct maildrop_ops *maildrop_format(const char *name, size_t len);

/*
 * Splits "FORMAT:PATH" and expands PATH: %u login name, %l local part,
 * %d domain, %h home, %% a percent; a leading "~/" is the home.  The
 * result must be absolute.  Returns 0, or -1 with *err set to a static
 * message.
 */
int	maildrop_expand(const char *spec, const char *user, const char *home,
	    const struct maildrop_ops **ops, char *path, size_t pathlen,
	    const char **err);

/* Output conversion of stored bytes (crlf.c); see there. */
#include "crlf.h"

#endif
