/*
 * The TRANSACTION and UPDATE states (RFC 1939 §5, §6), run as the mail
 * user after the privilege drop.  Deletions are only marks until QUIT;
 * a dropped connection or a timeout commits nothing.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "login_record.h"
#include "session.h"
#include "xio.h"

/* RFC 1939 §3 leaves the message-number range to us; 2^32 - 1 is plenty. */
#define MSGNUM_MAX	4294967295ULL
/*
 * RFC 1939 §7: a line count of at least the body's lines gives the whole
 * message, so any canonical number is valid up to what crlf.h's counter
 * holds; a client that asks for 2^31 - 1 lines means "all of it".
 */
#define TOP_LINES_MAX	9223372036854775807ULL
/* Read size when streaming a message: memory never grows with it. */
#define STREAM_BLOCK	65536

static enum reply
msg_index(struct session *s, const char *arg, size_t *index)
{
	uint64_t n;

	if (command_number(arg, 1, MSGNUM_MAX, &n) == -1)
		return RP_NUMBER;
	if (n > s->md.count)
		return RP_NO_MSG;
	if (s->deleted[n - 1])
		return RP_DELETED;
	*index = (size_t)(n - 1);
	return RP_OK;
}

static enum reply
md_reply(enum md_status st)
{
	switch (st) {
	case MD_OK:
		return RP_OK;
	case MD_GONE:
		return RP_GONE;
	case MD_IN_USE:
		return RP_IN_USE;
	case MD_PERM:
		return RP_MD_PERM;
	case MD_TEMP:
		break;
	}
	return RP_MD_TEMP;
}

/* Totals of the messages not marked deleted; vanished ones are skipped. */
static void
tr_totals(struct session *s, uint64_t *count, uint64_t *octets)
{
	uint64_t size;
	size_t	 i;

	*count = *octets = 0;
	for (i = 0; i < s->md.count; i++) {
		if (s->deleted[i] ||
		    s->md.ops->size(&s->md, i, &size) != MD_OK)
			continue;
		(*count)++;
		*octets += size;
	}
}

static enum reply
tr_stat(struct session *s, struct command_line *cl)
{
	uint64_t count, octets;

	tr_totals(s, &count, &octets);
	io_printf(&s->io, "+OK %llu %llu\r\n", (unsigned long long)count,
	    (unsigned long long)octets);
	return RP_DONE;
}

static enum reply
tr_list(struct session *s, struct command_line *cl)
{
	uint64_t size, count, octets;
	size_t	 i;
	enum reply r;

	if (cl->nargs == 1) {
		if ((r = msg_index(s, cl->args[0], &i)) != RP_OK)
			return r;
		if ((r = md_reply(s->md.ops->size(&s->md, i, &size))) != RP_OK)
			return r;
		io_printf(&s->io, "+OK %zu %llu\r\n", i + 1,
		    (unsigned long long)size);
		return RP_DONE;
	}
	tr_totals(s, &count, &octets);
	io_printf(&s->io, "+OK %llu messages (%llu octets)\r\n",
	    (unsigned long long)count, (unsigned long long)octets);
	for (i = 0; i < s->md.count; i++)
		if (!s->deleted[i] &&
		    s->md.ops->size(&s->md, i, &size) == MD_OK)
			io_printf(&s->io, "%zu %llu\r\n", i + 1,
			    (unsigned long long)size);
	io_write(&s->io, ".\r\n", 3);
	return RP_DONE;
}

static enum reply
tr_uidl(struct session *s, struct command_line *cl)
{
	char	 uid[UID_MAX_LEN + 1];
	size_t	 i;
	enum reply r;

	if (cl->nargs == 1) {
		if ((r = msg_index(s, cl->args[0], &i)) != RP_OK)
			return r;
		if ((r = md_reply(s->md.ops->uid(&s->md, i, uid))) != RP_OK)
			return r;
		io_printf(&s->io, "+OK %zu %s\r\n", i + 1, uid);
		return RP_DONE;
	}
	io_write(&s->io, "+OK\r\n", 5);
	for (i = 0; i < s->md.count; i++)
		if (!s->deleted[i] &&
		    s->md.ops->uid(&s->md, i, uid) == MD_OK)
			io_printf(&s->io, "%zu %s\r\n", i + 1, uid);
	io_write(&s->io, ".\r\n", 3);
	return RP_DONE;
}

static void	tr_hang_up(struct session *);

/*
 * Streams a message in blocks through the CRLF/dot-stuffing converter,
 * each block shown to the maildrop's check first (maildrop.h verify).
 * Returns -1 when the bytes are not the message counted (changed, cut
 * short): the final "." is then not sent, since a client that gets it
 * stores what came as the message.
 */
static int
tr_stream(struct session *s, size_t i, const struct md_source *src,
    long long lines)
{
	static char	 in[STREAM_BLOCK], out[2 * STREAM_BLOCK];
	int		(*verify)(struct maildrop *, size_t, const void *,
			    size_t) = s->md.ops->verify;
	struct crlf_state st;
	uint64_t	 done = 0;
	size_t		 n;
	ssize_t		 got;

	crlf_init(&st, lines);
	while (done < src->length && !st.done && !s->io.failed) {
		n = src->length - done < STREAM_BLOCK ?
		    (size_t)(src->length - done) : STREAM_BLOCK;
		got = pread_full(src->fd, in, n, (off_t)(src->offset + done));
		if (got != (ssize_t)n) {
			log_warnx("message %zu: read cut short", i + 1);
			return -1;
		}
		if (verify != NULL && verify(&s->md, i, in, n) == -1)
			return -1;
		io_write(&s->io, out, crlf_convert(&st, in, n, out));
		done += n;
	}
	if (s->io.failed)
		return 0;
	if (verify != NULL &&
	    verify(&s->md, i, NULL, done == src->length) == -1)
		return -1;
	io_write(&s->io, out, crlf_finish(&st, out));
	io_write(&s->io, ".\r\n", 3);
	return 0;
}

static enum reply
tr_send(struct session *s, const char *arg, long long lines)
{
	struct md_source src;
	uint64_t	 size;
	size_t		 i;
	enum reply	 r;
	int		 bad;

	if ((r = msg_index(s, arg, &i)) != RP_OK)
		return r;
	if (lines < 0 &&
	    (r = md_reply(s->md.ops->size(&s->md, i, &size))) != RP_OK)
		return r;
	if ((r = md_reply(s->md.ops->source(&s->md, i, &src))) != RP_OK)
		return r;
	if (lines < 0) {
		io_printf(&s->io, "+OK %llu octets\r\n",
		    (unsigned long long)size);
		s->retr_count++;
		s->retr_bytes += size;
	} else
		io_write(&s->io, "+OK\r\n", 5);
	bad = tr_stream(s, i, &src, lines);
	if (src.close_fd)
		close(src.fd);
	if (bad) {
		/* A real close: the session ends here, committing nothing. */
		log_warnx("message %zu not served whole, connection dropped",
		    i + 1);
		tr_hang_up(s);
	}
	return RP_DONE;
}

static enum reply
tr_retr(struct session *s, struct command_line *cl)
{
	return tr_send(s, cl->args[0], -1);
}

static enum reply
tr_top(struct session *s, struct command_line *cl)
{
	uint64_t lines;

	if (command_number(cl->args[1], 0, TOP_LINES_MAX, &lines) == -1) {
		size_t i;
		enum reply r = msg_index(s, cl->args[0], &i);

		return r != RP_OK ? r : RP_COUNT;
	}
	return tr_send(s, cl->args[0], (long long)lines);
}

static enum reply
tr_dele(struct session *s, struct command_line *cl)
{
	size_t	 i;
	enum reply r;

	if ((r = msg_index(s, cl->args[0], &i)) != RP_OK)
		return r;
	s->deleted[i] = 1;
	io_write(&s->io, "+OK Message deleted\r\n", 21);
	return RP_DONE;
}

static enum reply
tr_noop(struct session *s, struct command_line *cl)
{
	return RP_OK;
}

static enum reply
tr_rset(struct session *s, struct command_line *cl)
{
	memset(s->deleted, 0, s->md.count);
	return RP_OK;
}

static enum reply
tr_capa(struct session *s, struct command_line *cl)
{
	return capa_reply(s, 1);
}

/* RFC 1939 §6: the UPDATE state. */
static enum reply
tr_quit(struct session *s, struct command_line *cl)
{
	size_t	 i;

	s->dele_count = 0;
	for (i = 0; i < s->md.count; i++)
		s->dele_count += s->deleted[i];
	if (s->dele_count > 0 &&
	    s->md.ops->commit(&s->md, s->deleted) != MD_OK) {
		s->dele_count = 0;
		return RP_COMMIT;
	}
	s->committed = 1;
	return RP_BYE;
}

const struct command_row transaction_commands[] = {
	{ "STAT", ARGS_NONE, 0, tr_stat },
	{ "LIST", ARGS_OPT1, 0, tr_list },
	{ "RETR", ARGS_ONE,  0, tr_retr },
	{ "TOP",  ARGS_TWO,  0, tr_top },
	{ "DELE", ARGS_ONE,  0, tr_dele },
	{ "NOOP", ARGS_NONE, 0, tr_noop },
	{ "RSET", ARGS_NONE, 0, tr_rset },
	{ "UIDL", ARGS_OPT1, 0, tr_uidl },
	{ "CAPA", ARGS_NONE, 0, tr_capa },
	{ "QUIT", ARGS_NONE, 0, tr_quit },
};
const size_t transaction_ncommands =
    sizeof(transaction_commands) / sizeof(transaction_commands[0]);

/* Closes the client's connection; later output goes to /dev/null. */
static void
tr_hang_up(struct session *s)
{
	int	 fd;

	(void)io_flush(&s->io);
	s->io.failed = 1;
	/*
	 * shutdown(2) ends the connection itself, whatever other process
	 * or descriptor still holds the socket (inetd puts it on fd 2 too).
	 */
	(void)shutdown(s->io.out_fd, SHUT_RDWR);
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return;
	(void)dup2(fd, s->io.in_fd);
	(void)dup2(fd, s->io.out_fd);
	if (fd != s->io.in_fd && fd != s->io.out_fd)
		close(fd);
}

static void
tr_log_logout(struct session *s, const char *user)
{
	uint64_t kept = 0, kept_octets = 0, size;
	size_t	 i;

	/* What stays in the maildrop: all of it unless QUIT committed. */
	for (i = 0; i < s->md.count; i++) {
		if (s->committed && s->deleted[i])
			continue;
		kept++;
		if (s->md.ops->size(&s->md, i, &size) == MD_OK)
			kept_octets += size;
	}
	log_info("logout user=%s retr=%llu/%llu dele=%llu kept=%llu/%llu",
	    user, (unsigned long long)s->retr_count,
	    (unsigned long long)s->retr_bytes,
	    (unsigned long long)s->dele_count, (unsigned long long)kept,
	    (unsigned long long)kept_octets);
}

/*
 * The way in: the session lock, then LOGIN-DELAY, then the scan, and
 * the login is recorded only once the maildrop is open, so that an
 * [IN-USE] refusal or a maildrop that cannot be opened does not restart
 * the user's delay.  Returns the reply for the login command.
 */
static enum reply
tr_open(struct session *s, const struct auth_user *u, const char *path)
{
	const struct maildrop_ops *ops = s->md.ops;
	enum reply	 r;

	if ((r = md_reply(ops->lock(&s->md, path))) != RP_OK)
		return r;
	if (login_record_check(s->cfg, s->md.statefd, u->name) == 1) {
		ops->close(&s->md);
		log_notice("login refused user=%s reason=login-delay", u->name);
		return RP_LOGIN_DELAY;
	}
	r = md_reply(ops->open(&s->md));
	if (r == RP_OK && (s->deleted = calloc(s->md.count + 1, 1)) == NULL)
		r = RP_MD_TEMP;
	if (r != RP_OK) {
		ops->close(&s->md);
		log_warnx("maildrop %s for user=%s not opened", ops->name,
		    u->name);
		return r;
	}
	login_record_update(s->cfg, s->md.statefd, u->name);
	return RP_OK;
}

void
transaction_run(struct session *s, const struct auth_user *u,
    const struct maildrop_ops *ops, const char *path, int statefd)
{
	const char *user = u->name;
	enum reply r;

	s->md.ops = ops;
	s->md.statefd = statefd;
	if ((r = tr_open(s, u, path)) != RP_OK) {
		session_reply(s, r);
		(void)io_flush(&s->io);
		return;
	}
	io_printf(&s->io, "+OK Logged in\r\n");
	session_run(s, transaction_commands, transaction_ncommands);
	/*
	 * Hang up before the logout line: counting the kept octets may read
	 * every maildir message, and the client must not wait for that.
	 */
	tr_hang_up(s);
	tr_log_logout(s, user);
	ops->close(&s->md);
	free(s->deleted);
	s->deleted = NULL;
}
