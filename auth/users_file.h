/*
 * The virtual users file (pop3d.conf(5) "VIRTUAL USERS FILE"): Dovecot's
 * passwd-file layout, one user a line,
 *
 *	name:password:uid:gid:gecos:home:shell:extra
 *
 * users_file_parse() is a pure function on one line (fuzzed alone);
 * the reader hands out lines without stdio, so that secrets live only in
 * a buffer that users_file_close() wipes: secrets are wiped right after
 * use and never kept in stdio buffers.
 */
#ifndef POP3D_USERS_FILE_H
#define POP3D_USERS_FILE_H

#include <stddef.h>

/* Longest line, in octets, without the LF (and a CR before it). */
#define USERS_LINE_MAX		4096

enum users_line {
	USERS_LINE_SKIP,	/* blank or comment */
	USERS_LINE_ENTRY,	/* a well-formed entry */
	USERS_LINE_BAD,		/* malformed: `error` says why */
};

enum users_pw {
	USERS_PW_DISABLED,	/* empty, "!...", "*...", or nologin */
	USERS_PW_CRYPT,		/* `secret` is a crypt(3) string */
	USERS_PW_PLAIN,		/* `secret` is the plaintext ({PLAIN}) */
};

/* Notes for `pop3d -t` on an entry that still works. */
#define USERS_NOTE_LEGACY	0x01	/* libxcrypt calls the method legacy */
#define USERS_NOTE_UNKNOWN	0x02	/* unknown extra field(s) ignored */
#define USERS_NOTE_MISMATCH	0x04	/* {SCHEME} and hash disagree */

struct users_entry {
	/*
	 * The name, when the first field passes name_valid(); also set on
	 * a malformed line, so that the user it names is refused.
	 */
	const char	*name;
	enum users_pw	 pw;
	const char	*secret;	/* after the {SCHEME} prefix */
	long long	 uid;		/* -1: empty field */
	long long	 gid;		/* -1: empty field */
	const char	*home;		/* "" or an absolute path */
	const char	*maildrop;	/* NULL or "mbox:PATH" / "maildir:PATH" */
	int		 notes;		/* USERS_NOTE_* */
	const char	*unknown;	/* the first unknown extra key */
	const char	*error;		/* static text for USERS_LINE_BAD */
};

/*
 * Parses one line: `line` holds `len` octets followed by a NUL, and is
 * cut up in place; the entry points into it.  A len above
 * USERS_LINE_MAX is a malformed line (the reader passes a truncated
 * over-long line that way).
 */
enum users_line users_file_parse(char *line, size_t len,
	    struct users_entry *);

struct users_reader {
	int		 fd;
	long		 lineno;
	size_t		 start;		/* next unread octet in buf */
	size_t		 end;		/* end of the data in buf */
	int		 eof;
	int		 skipping;	/* discarding the rest of a long line */
	/* A longest line, CR, LF and a NUL. */
	char		 buf[USERS_LINE_MAX + 3];
};

/* Opens a regular file; -1 with errno on failure. */
int	users_file_open(struct users_reader *, const char *path);
/*
 * The next line, LF and a final CR removed, NUL-terminated and writable
 * until the next call: 1, 0 at end of file, -1 on a read error.  An
 * over-long line comes back truncated to USERS_LINE_MAX + 1 octets.
 */
int	users_file_next(struct users_reader *, char **line, size_t *len);
/* Closes the file and wipes the buffer. */
void	users_file_close(struct users_reader *);

#endif
