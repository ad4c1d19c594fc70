/*
 * The AUTHORIZATION state (RFC 1939 §4), run by the unprivileged pre-auth
 * child.  It never decides a login: it sends what the client gave to the
 * root side in a fixed-size message and relays the yes or no.  On yes it
 * sends no reply itself: the mail-user side answers PASS once it has
 * opened (or failed to open) the maildrop, so [IN-USE] can be the answer.
 */
#include <string.h>

#include "privsep_msg.h"
#include "session.h"
#include "xio.h"

static int
copy_field(char *dst, size_t dstsize, uint32_t *len, const char *src,
    size_t srclen)
{
	if (srclen >= dstsize)
		return -1;
	memcpy(dst, src, srclen);
	dst[srclen] = '\0';
	*len = (uint32_t)srclen;
	return 0;
}

enum reply
authorization_ask(struct session *s, enum auth_method method,
    const char *user, const char *secret, size_t secret_len,
    const char *challenge)
{
	struct cred_msg		 msg;
	struct cred_answer	 ans;
	size_t			 ulen = strlen(user);

	memset(&msg, 0, sizeof(msg));
	msg.method = method;
	/*
	 * Over-long fields are sent empty: the root side then fails the
	 * login the ordinary way, with the same delay and reply.
	 */
	if (copy_field(msg.user, sizeof(msg.user), &msg.user_len, user,
	    ulen) == -1)
		msg.user_len = 0;
	if (copy_field(msg.secret, sizeof(msg.secret), &msg.secret_len,
	    secret, secret_len) == -1)
		msg.secret_len = 0;
	if (challenge != NULL && copy_field(msg.challenge,
	    sizeof(msg.challenge), &msg.challenge_len, challenge,
	    strlen(challenge)) == -1)
		msg.challenge_len = 0;
	/* Flush replies first so they reach the client in order. */
	(void)io_flush(&s->io);
	if (write_all(s->priv_fd, &msg, sizeof(msg)) != sizeof(msg) ||
	    read_full(s->priv_fd, &ans, sizeof(ans)) != sizeof(ans)) {
		explicit_bzero(&msg, sizeof(msg));
		return RP_INTERNAL;
	}
	explicit_bzero(&msg, sizeof(msg));
	if (ans.ok) {
		s->logged_in = 1;
		return RP_DONE;
	}
	return ans.close ? RP_AUTH_LAST : RP_AUTH;
}

static enum reply
auth_user(struct session *s, struct command_line *cl)
{
	/* Remember even an invalid name: PASS fails it like any other. */
	if (strlcpy(s->user, cl->args[0], sizeof(s->user)) >= sizeof(s->user))
		s->user[0] = '\0';
	s->have_user = 1;
	io_printf(&s->io, "+OK User name accepted, password please\r\n");
	return RP_DONE;
}

static enum reply
auth_pass(struct session *s, struct command_line *cl)
{
	enum reply r;

	if (!s->have_user)
		return RP_USER_FIRST;
	s->have_user = 0;
	r = authorization_ask(s, AUTH_METHOD_USER, s->user, cl->rest,
	    strlen(cl->rest), NULL);
	explicit_bzero(s->user, sizeof(s->user));
	return r;
}

/* RFC 1939 §7: APOP name digest, only when the greeting had a stamp. */
static enum reply
auth_apop(struct session *s, struct command_line *cl)
{
	if (s->apop_stamp == NULL)
		return RP_UNKNOWN;
	s->have_user = 0;
	return authorization_ask(s, AUTH_METHOD_APOP, cl->args[0],
	    cl->args[1], strlen(cl->args[1]), s->apop_stamp);
}

static enum reply
auth_capa(struct session *s, struct command_line *cl)
{
	return capa_reply(s, 0);
}

static enum reply
auth_quit(struct session *s, struct command_line *cl)
{
	return RP_BYE;
}

const struct command_row authorization_commands[] = {
	{ "USER", ARGS_ONE,	 0, auth_user },
	{ "PASS", ARGS_REST,	 1, auth_pass },
	{ "APOP", ARGS_TWO,	 0, auth_apop },
	{ "AUTH", ARGS_ONE_OPT2, 1, sasl_auth },
	{ "CAPA", ARGS_NONE,	 0, auth_capa },
	{ "QUIT", ARGS_NONE,	 0, auth_quit },
};
const size_t authorization_ncommands =
    sizeof(authorization_commands) / sizeof(authorization_commands[0]);
