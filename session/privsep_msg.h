/*
 * The only bytes a root process reads from the pre-auth child (DESIGN.md
 * "Privilege flow"): fixed-size messages with length fields, never delimiters
 * that a password could contain.  The root side checks every length and
 * terminator before it uses a field.
 */
#ifndef POP3D_PRIVSEP_MSG_H
#define POP3D_PRIVSEP_MSG_H

#include <stdint.h>

#include "auth.h"
#include "io.h"

struct cred_msg {
	uint32_t	 method;	/* enum auth_method */
	uint32_t	 user_len;
	uint32_t	 secret_len;
	uint32_t	 challenge_len;
	char		 user[NAME_MAX_LEN + 1];
	char		 secret[AUTH_SECRET_MAX + 1];
	char		 challenge[AUTH_CHALLENGE_MAX + 1];
};

struct cred_answer {
	uint32_t	 ok;
	uint32_t	 close;		/* max-failures reached */
};

/* After a yes: what the client pipelined behind its login command. */
struct handoff_msg {
	uint32_t	 len;
	char		 bytes[IO_INBUF];
};

#endif
