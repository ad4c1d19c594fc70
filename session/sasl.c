/*
 * AUTH (RFC 5034) in the pre-auth child: PLAIN (RFC 4616) and CRAM-MD5
 * (RFC 2195).  Base64 comes from libresolv; the decision is the root
 * side's, as for USER/PASS.
 */
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "session.h"

#define SASL_DECODED_MAX	(IO_LINE_MAX * 3 / 4 + 1)

/* Reads one client response line; "*" cancels (RFC 5034 §4). */
static enum reply
sasl_read_response(struct session *s, const char *challenge, char **line)
{
	size_t	 len;

	io_printf(&s->io, "+ %s\r\n", challenge);
	switch (io_getline(&s->io, line, &len)) {
	case IO_LINE:
		break;
	case IO_TOO_LONG:
		return RP_TOO_LONG;
	case IO_TIMEOUT:
		return RP_TIMEOUT;
	default:
		s->closing = 1;
		return RP_DONE;
	}
	if (strcmp(*line, "*") == 0)
		return RP_CANCELLED;
	return RP_OK;
}

/* Decodes base64; "=" is the empty response (RFC 5034 §4). */
static int
sasl_decode(const char *b64, unsigned char *out, size_t outlen)
{
	if (strcmp(b64, "=") == 0)
		return 0;
	if (*b64 == '\0')
		return -1;
	return b64_pton(b64, out, outlen);
}

/* RFC 4616 §2: [authzid] NUL authcid NUL passwd. */
static enum reply
sasl_plain(struct session *s, const char *initial)
{
	unsigned char	 buf[SASL_DECODED_MAX + 1];
	char		*line = (char *)initial;
	const char	*authzid, *authcid, *pass;
	size_t		 alen, clen, plen;
	enum reply	 r;
	int		 n;

	if (line == NULL && (r = sasl_read_response(s, "", &line)) != RP_OK)
		return r;
	n = sasl_decode(line, buf, sizeof(buf) - 1);
	explicit_bzero(line, strlen(line));
	if (n < 0)
		return RP_BASE64;
	buf[n] = '\0';
	authzid = (char *)buf;
	alen = strnlen(authzid, (size_t)n);
	if (alen >= (size_t)n)
		goto bad;
	authcid = authzid + alen + 1;
	clen = strnlen(authcid, (size_t)n - alen - 1);
	if (alen + 1 + clen >= (size_t)n)
		goto bad;
	pass = authcid + clen + 1;
	plen = (size_t)n - alen - clen - 2;
	/* We serve no proxy logins: authzid is empty or the same user. */
	if ((alen != 0 && strcmp(authzid, authcid) != 0) ||
	    memchr(pass, '\0', plen) != NULL)
		goto bad;
	r = authorization_ask(s, AUTH_METHOD_PLAIN, authcid, pass, plen,
	    NULL);
	explicit_bzero(buf, sizeof(buf));
	return r;
bad:
	explicit_bzero(buf, sizeof(buf));
	/* A malformed message is an ordinary failure: same delay, same text. */
	return authorization_ask(s, AUTH_METHOD_PLAIN, "", "", 0, NULL);
}

/* RFC 2195: challenge <random.time@host>, response "user hexdigest". */
static enum reply
sasl_cram_md5(struct session *s)
{
	char		 challenge[AUTH_CHALLENGE_MAX], b64[AUTH_CHALLENGE_MAX * 2];
	unsigned char	 buf[SASL_DECODED_MAX + 1];
	char		*line, *sp;
	enum reply	 r;
	int		 n;

	n = snprintf(challenge, sizeof(challenge), "<%s.%u@%s>", s->nonce,
	    ++s->challenges, s->hostname);
	if (n < 0 || (size_t)n >= sizeof(challenge) ||
	    b64_ntop((unsigned char *)challenge, (size_t)n, b64,
	    sizeof(b64)) < 0)
		return RP_INTERNAL;
	if ((r = sasl_read_response(s, b64, &line)) != RP_OK)
		return r;
	n = sasl_decode(line, buf, sizeof(buf) - 1);
	if (n < 0)
		return RP_BASE64;
	buf[n] = '\0';
	if ((sp = strrchr((char *)buf, ' ')) == NULL ||
	    memchr(buf, '\0', (size_t)n) != NULL)
		return authorization_ask(s, AUTH_METHOD_CRAM_MD5, "", "", 0,
		    challenge);
	*sp = '\0';
	return authorization_ask(s, AUTH_METHOD_CRAM_MD5, (char *)buf,
	    sp + 1, strlen(sp + 1), challenge);
}

enum reply
sasl_auth(struct session *s, struct command_line *cl)
{
	const char	*mech = cl->args[0];
	const char	*initial = cl->nargs == 2 ? cl->args[1] : NULL;

	s->have_user = 0;
	if ((s->sasl_offered & SASL_PLAIN) && strcasecmp(mech, "PLAIN") == 0)
		return sasl_plain(s, initial);
	if ((s->sasl_offered & SASL_CRAM_MD5) &&
	    strcasecmp(mech, "CRAM-MD5") == 0 && initial == NULL)
		return sasl_cram_md5(s);
	return RP_MECH;
}
