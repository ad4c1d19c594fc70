/*
 * CAPA (RFC 2449 §5): advertise only what works for this configuration
 * and state (PEERS.md: a greeting or CAPA promising what the server cannot
 * honour locks clients out).
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
	capa_line(s, "IMPLEMENTATION pop3d");
	capa_line(s, ".");
	return RP_DONE;
}
