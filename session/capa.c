/*
 * CAPA (RFC 2449 §5): advertise only what works for this configuration
 * and state: a greeting or CAPA promising what the server cannot honour
 * locks clients out.
 */
#include <stdio.h>
#include <string.h>

#include "session.h"

static void
capa_line(struct session *s, const char *line)
{
	io_write(&s->io, line, strlen(line));
	io_write(&s->io, "\r\n", 2);
}

enum reply
capa_reply(struct session *s, int transaction)
{
	char	 sasl[64] = "SASL";

	capa_line(s, "+OK Capability list follows");
	capa_line(s, "TOP");
	if (!transaction)
		capa_line(s, "USER");
	capa_line(s, "UIDL");
	capa_line(s, "RESP-CODES");
	capa_line(s, "AUTH-RESP-CODE");
	capa_line(s, "PIPELINING");
	if (!transaction && s->sasl_offered != 0) {
		if (s->sasl_offered & SASL_PLAIN)
			strlcat(sasl, " PLAIN", sizeof(sasl));
		if (s->sasl_offered & SASL_CRAM_MD5)
			strlcat(sasl, " CRAM-MD5", sizeof(sasl));
		capa_line(s, sasl);
	}
	if (s->cfg->login_delay > 0) {
		/* RFC 2449 §6.5 */
		io_printf(&s->io, "LOGIN-DELAY %lld\r\n", s->cfg->login_delay);
	}
	if (s->cfg->expire == -1)
		capa_line(s, "EXPIRE NEVER");
	else if (s->cfg->expire >= 0) {
		/* RFC 2449 §6.7: days a message may stay after retrieval. */
		io_printf(&s->io, "EXPIRE %lld\r\n", s->cfg->expire);
	}
	capa_line(s, "IMPLEMENTATION pop3d");
	capa_line(s, ".");
	return RP_DONE;
}
