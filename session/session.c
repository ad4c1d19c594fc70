#include <string.h>
#include <strings.h>

#include "session.h"

struct reply_row {
	const char	*line;
	unsigned	 bad:1;		/* counts toward SESSION_MAX_BAD */
	unsigned	 close:1;	/* the session ends after it */
};

static const struct reply_row replies[] = {
	[RP_DONE]	= { NULL, 0, 0 },
	[RP_OK]		= { "+OK", 0, 0 },
	[RP_BYE]		= { "+OK Bye", 0, 1 },
	[RP_UNKNOWN]	= { "-ERR Unknown command", 1, 0 },
	[RP_STATE]	= { "-ERR Command not valid in this state", 1, 0 },
	[RP_SYNTAX]	= { "-ERR Syntax error", 1, 0 },
	[RP_TOO_LONG]	= { "-ERR Line too long", 1, 0 },
	[RP_CHARS]	= { "-ERR Invalid characters in command", 1, 0 },
	[RP_NUMBER]	= { "-ERR Invalid message number", 1, 0 },
	[RP_NO_MSG]	= { "-ERR No such message", 0, 0 },
	[RP_DELETED]	= { "-ERR Message is deleted", 0, 0 },
	[RP_GONE]	= { "-ERR [SYS/TEMP] Message is no longer available", 0, 0 },
	[RP_COUNT]	= { "-ERR Invalid line count", 1, 0 },
	[RP_USER_FIRST]	= { "-ERR USER first", 1, 0 },
	/* RFC 3206 §4: [AUTH] says the credentials, not the system, failed. */
	[RP_AUTH]	= { "-ERR [AUTH] Authentication failed", 0, 0 },
	[RP_AUTH_LAST]	= { "-ERR [AUTH] Authentication failed", 0, 1 },
	[RP_CANCELLED]	= { "-ERR Authentication cancelled", 0, 0 },
	[RP_BASE64]	= { "-ERR Invalid base64", 1, 0 },
	[RP_MECH]	= { "-ERR Unsupported authentication mechanism", 1, 0 },
	/* RFC 2449 §8.1.1 */
	[RP_IN_USE]	= { "-ERR [IN-USE] Maildrop is in use by another session", 0, 1 },
	[RP_MD_TEMP]	= { "-ERR [SYS/TEMP] Cannot open maildrop", 0, 1 },
	[RP_MD_PERM]	= { "-ERR [SYS/PERM] Cannot open maildrop", 0, 1 },
	[RP_COMMIT]	= { "-ERR [SYS/TEMP] Deleted messages were not removed", 0, 1 },
	[RP_CONFIG]	= { "-ERR [SYS/PERM] Server configuration error", 0, 1 },
	[RP_TIMEOUT]	= { "-ERR Disconnected for inactivity", 0, 1 },
	[RP_TOO_MANY]	= { "-ERR Too many bad commands", 0, 1 },
	[RP_HTTP]	= { "-ERR This is a POP3 server", 0, 1 },
	[RP_INTERNAL]	= { "-ERR [SYS/TEMP] Internal error", 0, 1 },
	/* RFC 2449 §8.1.2 */
	/* The onlogin program said no (docs/onlogin.md "Verdict"). */
	[RP_ONLOGIN]	= { "-ERR [SYS/TEMP] Login refused, try again later", 0, 1 },
	[RP_LOGIN_DELAY] = { "-ERR [LOGIN-DELAY] Minimum time between logins not reached", 0, 1 },
};

/* Every verb of either state, to tell "unknown" from "not now". */
static const char *const all_verbs[] = {
	"APOP", "AUTH", "CAPA", "DELE", "LIST", "NOOP", "PASS", "QUIT",
	"RETR", "RSET", "STAT", "STLS", "TOP", "UIDL", "USER",
};

void
session_reply(struct session *s, enum reply r)
{
	const struct reply_row *row = &replies[r];

	if (row->line != NULL) {
		io_write(&s->io, row->line, strlen(row->line));
		io_write(&s->io, "\r\n", 2);
	}
	if (row->close)
		s->closing = 1;
	if (!row->bad) {
		s->bad_in_row = 0;
		return;
	}
	if (++s->bad_in_row >= SESSION_MAX_BAD) {
		io_write(&s->io, replies[RP_TOO_MANY].line,
		    strlen(replies[RP_TOO_MANY].line));
		io_write(&s->io, "\r\n", 2);
		s->closing = 1;
	}
}

static int
known_verb(const char *verb)
{
	size_t	 i;

	for (i = 0; i < sizeof(all_verbs) / sizeof(all_verbs[0]); i++)
		if (strcmp(all_verbs[i], verb) == 0)
			return 1;
	return 0;
}

/* Someone pointed a web browser or an HTTP proxy at us: stop early. */
static int
looks_like_http(const char *line)
{
	static const char *const methods[] = {
		"GET ", "POST ", "HEAD ", "PUT ", "CONNECT ", "OPTIONS ",
	};
	size_t	 i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strncasecmp(line, methods[i], strlen(methods[i])) == 0)
			return 1;
	return 0;
}

static enum reply
session_dispatch(struct session *s, const struct command_row *table,
    size_t n, char *line, size_t len)
{
	struct command_line	 cl;
	const struct command_row *row = NULL;
	size_t			 i;

	/* A NUL voids the whole line (DESIGN.md "What is never trusted"). */
	if (memchr(line, '\0', len) != NULL)
		return RP_CHARS;
	if (s->lines_seen++ == 0 && looks_like_http(line))
		return RP_HTTP;
	if (command_parse(line, &cl) != PARSE_OK)
		return RP_UNKNOWN;
	for (i = 0; i < n; i++)
		if (strcmp(table[i].verb, cl.verb) == 0) {
			row = &table[i];
			break;
		}
	if (row == NULL)
		return known_verb(cl.verb) ? RP_STATE : RP_UNKNOWN;
	if (!row->long_line && len + 2 > IO_CMD_MAX)
		return RP_TOO_LONG;
	if (row->rule != ARGS_REST && command_split(&cl) != PARSE_OK)
		return RP_SYNTAX;
	if (!command_args_fit(row->rule, &cl))
		return RP_SYNTAX;
	return row->fn(s, &cl);
}

void
session_run(struct session *s, const struct command_row *table, size_t n)
{
	char	*line;
	size_t	 len;

	while (!s->closing && !s->logged_in && !s->io.failed) {
		switch (io_getline(&s->io, &line, &len)) {
		case IO_LINE:
			session_reply(s, session_dispatch(s, table, n, line,
			    len));
			/* Wipe what may have been a password (PASS, AUTH). */
			explicit_bzero(line, len);
			break;
		case IO_TOO_LONG:
			session_reply(s, RP_TOO_LONG);
			break;
		case IO_TIMEOUT:
			session_reply(s, RP_TIMEOUT);
			break;
		case IO_EOF:
		case IO_ERROR:
			s->closing = 1;
			break;
		}
	}
	(void)io_flush(&s->io);
}
