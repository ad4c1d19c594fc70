/*
 * The POP3 state machine (RFC 1939 §3): one command table per state, a
 * dispatcher that checks each row's argument rule once, and one place that
 * turns handler outcomes into reply lines.  The AUTHORIZATION table runs in
 * the unprivileged pre-auth child; the TRANSACTION table runs as the mail
 * user.  Replies never echo client input (DESIGN.md "What is never trusted").
 */
#ifndef POP3D_SESSION_H
#define POP3D_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "command.h"
#include "config.h"
#include "io.h"
#include "maildrop.h"

/* Bad commands in a row before the session is closed (DESIGN.md limits). */
#define SESSION_MAX_BAD	10

enum reply {
	RP_DONE,			/* the handler wrote its own reply */
	RP_OK,
	RP_BYE,
	RP_UNKNOWN,
	RP_STATE,
	RP_SYNTAX,
	RP_TOO_LONG,
	RP_CHARS,
	RP_NUMBER,
	RP_NO_MSG,
	RP_DELETED,
	RP_GONE,
	RP_COUNT,
	RP_USER_FIRST,
	RP_AUTH,
	RP_AUTH_LAST,		/* failed, and that was the last try */
	RP_CANCELLED,
	RP_BASE64,
	RP_MECH,
	RP_IN_USE,
	RP_MD_TEMP,
	RP_MD_PERM,
	RP_COMMIT,
	RP_CONFIG,
	RP_TIMEOUT,
	RP_TOO_MANY,
	RP_HTTP,
	RP_INTERNAL,
	RP_LOGIN_DELAY,
	RP_ONLOGIN,
};

struct session;

struct command_row {
	char		 verb[5];
	enum arg_rule	 rule;
	int		 long_line;	/* may exceed IO_CMD_MAX (PASS, AUTH) */
	enum reply	(*fn)(struct session *, struct command_line *);
};

struct session {
	struct io		 io;
	const struct config	*cfg;
	const char		*client_addr;	/* "local" when not inet */
	const char		*client_port;	/* "" when not inet */
	const char		*server_addr;
	const char		*server_port;
	int			 closing;	/* reply, then end the session */
	int			 bad_in_row;
	int			 lines_seen;

	/* AUTHORIZATION (pre-auth child) */
	int			 priv_fd;	/* socket to the root side */
	int			 have_user;
	int			 logged_in;	/* root said yes: hand over */
	char			 user[NAME_MAX_LEN + 2];
	const char		*apop_stamp;	/* NULL: APOP off */
	int			 sasl_offered;	/* SASL_* that work here */
	const char		*hostname;	/* for CRAM-MD5 challenges */
	char			 nonce[64];	/* root's, per session */
	unsigned		 challenges;	/* CRAM-MD5 challenges made */

	/* TRANSACTION (mail user) */
	struct maildrop		 md;
	unsigned char		*deleted;
	uint64_t		 retr_count, retr_bytes, dele_count;
	int			 committed;	/* QUIT applied the deletions */
};

extern const struct command_row authorization_commands[];
extern const size_t authorization_ncommands;
extern const struct command_row transaction_commands[];
extern const size_t transaction_ncommands;

/* Runs commands from `table` until closing or logged_in. */
void	session_run(struct session *, const struct command_row *, size_t);
void	session_reply(struct session *, enum reply);

/* CAPA for either state (capa.c). */
enum reply capa_reply(struct session *, int transaction);

/* AUTH (sasl.c), in the pre-auth child. */
enum reply sasl_auth(struct session *, struct command_line *);
/* Asks the root side about credentials (authorization.c). */
enum reply authorization_ask(struct session *, enum auth_method,
	    const char *user, const char *secret, size_t secret_len,
	    const char *challenge);

/*
 * Opens the maildrop, answers the login command, and runs the TRANSACTION
 * state as the mail user; returns when the session ends.  statefd: the
 * user's directory in state-dir (statedir.h).
 */
void	transaction_run(struct session *, const struct auth_user *,
	    const struct maildrop_ops *, const char *path, int statefd);

#endif
