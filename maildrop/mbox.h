/*
 * The mbox maildrop, inside (docs/mbox.md explains the method).  Files:
 *
 *   mbox.c		the maildrop_ops row: open, size, uid, source, close
 *   mbox_scan.c	the one-pass scanner: framing, POP3 sizes, digests
 *   mbox_lock.c	session lock; the MDA locks (mda_lock.c) for struct mbox
 *   mbox_commit.c	QUIT: verification and the crash-safe rewrite
 *   mbox_journal.c	the recovery record that makes the rewrite safe
 *   mbox_io.c		the write-side system calls, with fault injection
 */
#ifndef POP3D_MBOX_H
#define POP3D_MBOX_H

#include <sys/types.h>

#include <stdint.h>
#include <md5.h>

#include "maildrop.h"
#include "mda_lock.h"
#include "statedir.h"

/*
 * Octets of the From_ line and header hashed into a message's digest
 * (its UIDL), not counting the fields left out (X-IMAPbase, Status...,
 * mbox_scan.c): enough for the trace fields an MTA puts on top
 * (Received, Delivered-To, Return-Path) that make two deliveries differ,
 * small enough that hashing costs little next to reading the file.
 */
#define MBOX_HASH_CAP		1024
/* Read size of the scan. */
#define MBOX_BUFSZ		(256 * 1024)

/* One message: 48 bytes, whatever the message size. */
struct mbox_msg {
	uint64_t	 from;		/* offset of the From_ line */
	uint64_t	 rawlen;	/* stored octets served */
	uint64_t	 size;		/* POP3 size: CRLF, unstuffed (crlf.h) */
	uint32_t	 fromlen;	/* the From_ line with its LF */
	uint32_t	 dup;		/* earlier messages with this digest */
	unsigned char	 digest[16];
};

/*
 * The digest of a message: 128 bits from two independent 64-bit lanes
 * (mbox_scan.c).  Not cryptographic, and need not be: ids are made
 * unique by the duplicate counter, and a sender who crafts a collision
 * only makes two of their own messages look alike (docs/mbox.md).  It
 * runs at memory speed where MD5 cost a fifth of the scan.
 */
struct mbox_hash {
	uint64_t	 a;
	uint64_t	 b;
	uint64_t	 len;
	unsigned char	 tail[8];
	unsigned	 ntail;
};

void	mbox_hash_init(struct mbox_hash *);
void	mbox_hash_update(struct mbox_hash *, const void *, size_t);
void	mbox_hash_final(struct mbox_hash *, unsigned char out[16]);

enum mbox_scan_error {
	MBOX_SCAN_OK = 0,
	MBOX_SCAN_NOT_MBOX,	/* does not start with "From " */
	MBOX_SCAN_TOO_MANY,	/* more than MAILDROP_MAX_MESSAGES */
	MBOX_SCAN_LONG_FROM,	/* From_ line of 4 GiB or more */
	MBOX_SCAN_NOMEM,
	MBOX_SCAN_IO,		/* read error or file shorter than said */
};

/* Octets of a header line held back until its field name is known. */
#define MBOX_HEAD		16

/* A header line: kept in the digest, left out, or Content-Length. */
enum { HC_UNDECIDED, HC_KEEP, HC_SKIP, HC_CL };
/* The message's Content-Length: none, one good value, unusable. */
enum { CL_NONE, CL_OK, CL_BAD };
/* Where a Content-Length line's value is being read. */
enum { CLP_LEAD, CLP_DIGITS, CLP_TRAIL, CLP_BAD };

/*
 * A message whose Content-Length points past the end the From_ rule gave
 * it: if a later message ends exactly there, the two and all between
 * become one (docs/mbox.md).  The digest state is kept to finish the
 * merged message's digest.
 */
struct mbox_cand {
	uint64_t	 target;	/* body start + Content-Length */
	uint64_t	 content_extra;
	size_t		 index;		/* its record */
	struct mbox_hash hash;		/* before the lengths went in */
};

/*
 * The scanner is fed the file in blocks of any size; it keeps no byte of
 * them, only this state, so the same state can be saved at the end of
 * the scan and resumed at commit to look at mail appended since.
 */
struct mbox_scan {
	struct mbox_msg	*msgs;
	size_t		 count;
	size_t		 cap;
	size_t		 max;		/* MAILDROP_MAX_MESSAGES, or less */
	enum mbox_scan_error error;
	int		 probe;		/* stop at the first From_ line */
	int		 stop;
	uint64_t	 boundary;	/* probe: where it starts */

	uint64_t	 off;		/* offset of the next byte */
	uint64_t	 line_start;
	uint64_t	 line_extra;	/* extra at line_start */
	uint64_t	 prev_start;	/* the line before this one */
	uint64_t	 prev_extra;
	uint64_t	 extra;		/* CRs RETR adds since offset 0 */
	uint64_t	 cur_from;
	uint64_t	 content;	/* start of the served bytes */
	uint64_t	 content_extra;	/* extra at content */
	uint64_t	 limit;		/* the file's length, if known */
	unsigned	 linepos;	/* bytes of this line seen */
	unsigned char	 head[MBOX_HEAD]; /* up to 5, in the header 16 */
	unsigned	 prev_empty:1;	/* previous line was empty */
	unsigned	 last_cr:1;
	unsigned	 inmsg:1;
	unsigned	 fromline:1;	/* in the From_ line */
	unsigned	 inhead:1;	/* in the header */
	unsigned	 hashing:1;	/* these octets go into the digest */
	unsigned	 have_body:1;	/* the header has ended, at `body` */
	unsigned	 cl_digits:1;
	unsigned	 whole:1;	/* one message, no framing (verify) */
	unsigned char	 hclass;	/* this header line, HC_* */
	unsigned char	 hprev;		/* the field a folded line continues */
	unsigned char	 cl_state;	/* CL_* */
	unsigned char	 cl_line;	/* CLP_* */
	uint32_t	 hash_left;	/* digest octets still to take */
	struct mbox_hash hash;
	uint64_t	 body;
	uint64_t	 cl_value;
	uint64_t	 cl_line_value;
	struct mbox_cand *cand;		/* freed by mbox_scan_finish */
	size_t		 ncand;
	size_t		 candcap;
};

void	mbox_scan_init(struct mbox_scan *, size_t max);
/*
 * For checking one message again (RETR, TOP): the From_ line and the
 * stored octets of one message are fed, nothing frames them; the record
 * made by mbox_scan_finish goes into *out.
 */
void	mbox_scan_init_whole(struct mbox_scan *, struct mbox_msg *out);
void	mbox_scan_feed(struct mbox_scan *, const unsigned char *, size_t);
/* Ends the last message at the current offset. */
void	mbox_scan_finish(struct mbox_scan *);
/*
 * The digest of a message of which only the start was fed (TOP), given
 * its lengths; -1 when the From_ line and header were not all seen.
 */
int	mbox_scan_head_digest(const struct mbox_scan *, uint64_t rawlen,
	    uint64_t size, unsigned char out[16]);
/* Numbers identical digests in file order (the UID suffix). */
int	mbox_scan_number_dups(struct mbox_msg *, size_t);
/* Formats a message's unique-id. */
void	mbox_uid_format(const struct mbox_msg *, char out[UID_MAX_LEN + 1]);
/* Scans fd from 0 to len; the state before finish is put in *resume. */
enum mbox_scan_error mbox_scan_fd(int fd, uint64_t len, size_t max,
	    struct mbox_scan *s, struct mbox_scan *resume);
const char *mbox_scan_strerror(enum mbox_scan_error);

/* The open maildrop. */
struct mbox {
	int		 fd;		/* -1: no file, empty maildrop */
	int		 rdonly;
	char		 path[4096];
	dev_t		 dev;
	ino_t		 ino;
	int		 statefd;	/* the user's state directory */
	char		 key[STATEDIR_KEY_MAX];	/* its files' names */
	int		 lockfd;	/* session lock, -1 none */
	struct mda_lock	 mda;		/* dotlock + fcntl lock */
	struct mbox_msg	*msgs;
	size_t		 count;
	uint64_t	 scanned;	/* bytes scanned at open */
	struct mbox_scan resume;	/* scanner state at `scanned` */
	/* RETR/TOP: the message being sent, scanned again (mbox.c). */
	struct mbox_scan vscan;
	struct mbox_msg	 vmsg;
	uint64_t	 vdone;		/* octets of it fed so far */
	int		 vbad;
};

extern const struct maildrop_ops mbox_ops;

/* mbox.c: is mb->path still the file we hold open? */
int	mbox_same_file(const struct mbox *);

/* mbox_lock.c */
/*
 * Dotlock, then fcntl lock of `type` (F_RDLCK, F_WRLCK), both bounded;
 * the ending signals wait until mbox_unlock (mda_lock.h).
 */
enum md_status mbox_lock(struct mbox *, short type);
/* While locked, keeps the dotlock from looking stale (mda_lock_touch). */
void	mbox_lock_touch(struct mbox *);
void	mbox_unlock(struct mbox *);

/* mbox_journal.c: the recovery record of an in-place rewrite. */
struct mbox_plan;
/*
 * Looks for a recovery record of this mbox and completes the rewrite it
 * describes.  0: there was none; 1: one was applied; -1: error (logged;
 * the mbox must not be touched).  Also removes our stale temp files.
 */
int	mbox_journal_recover(struct mbox *);
/* Is there a record for this mbox?  1 yes, 0 no, -1 cannot tell (logged). */
int	mbox_journal_exists(const struct mbox *);
/*
 * The mbox path a record (STATE/UID/NAME) was written for, for pop3d -R;
 * 0, or -1 (logged) when it is not a sound record of ours.
 */
int	mbox_journal_path(int statefd, const char *name, char *path,
	    size_t len);
/* Writes the record for the plan and applies it; 0 or -1 (logged). */
int	mbox_journal_commit(struct mbox *, const struct mbox_plan *);

/* mbox_commit.c */
enum md_status mbox_commit(struct maildrop *, const unsigned char *);

/*
 * What a commit does: the file keeps [0, off0) and then gets, at off0,
 * the kept messages after off0 and the mail that came after the scan.
 * Each segment is a byte range of the current file, in order.
 */
struct mbox_seg {
	uint64_t	 off;
	uint64_t	 len;
};
struct mbox_plan {
	uint64_t	 off0;
	uint64_t	 size;		/* the file's size under the lock */
	struct mbox_seg	*segs;
	size_t		 nsegs;
	uint64_t	 ndata;		/* sum of the segments */
};

/*
 * mbox_io.c: every call that changes a file during recovery and commit
 * goes through these, so that a test can make the n-th one fail or kill
 * the process (the fault-injection test of the commit).
 */
int	mbox_io_pwrite_all(int fd, const void *, size_t, off_t);
int	mbox_io_fsync(int fd);
int	mbox_io_ftruncate(int fd, off_t);
int	mbox_io_renameat(int, const char *, int, const char *);
int	mbox_io_unlinkat(int, const char *, int);
int	mbox_io_openat(int, const char *, int, mode_t);
/*
 * Test hook: the n-th call from now (1-based) fails with errno err after
 * writing half of its data (for a write), or when err is 0, the process
 * kills itself with SIGKILL at that call, after half a write.  n = 0
 * turns faults off.  mbox_io_calls() counts the calls since the last
 * mbox_io_fault().
 */
void	mbox_io_fault(unsigned long n, int err);
unsigned long mbox_io_calls(void);

#endif
