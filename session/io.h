/*
 * Session I/O: a bounded line reader and a buffered writer on the client
 * descriptors.  Memory is fixed whatever the client sends: an over-long
 * line is consumed up to its LF without being stored (DESIGN.md "Limits
 * and why").  Output is flushed before the reader blocks, so pipelined
 * commands get their replies in order and nothing waits in our buffer.
 */
#ifndef POP3D_IO_H
#define POP3D_IO_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* The `tls` key: how the client's connection is to be encrypted. */
enum tls_mode { TLS_NONE, TLS_STARTTLS, TLS_IMPLICIT };

/* Longest line kept, CRLF included: room for long passwords and SASL. */
#define IO_LINE_MAX	1024
/* RFC 2449 §4: command lines are at most 255 octets with the CRLF. */
#define IO_CMD_MAX	255
#define IO_INBUF	4096
#define IO_OUTBUF	16384

enum io_status {
	IO_LINE,	/* a line; CR LF or LF stripped; NUL-terminated */
	IO_TOO_LONG,	/* a line over IO_LINE_MAX was discarded */
	IO_EOF,
	IO_TIMEOUT,	/* idle for the configured timeout */
	IO_ERROR,
};

struct io {
	int		 in_fd;
	int		 out_fd;
	int		 timeout_ms;
	int		 failed;	/* a write failed: the session must end */
	int		 discarding;	/* inside an over-long line */
	size_t		 in_start;
	size_t		 in_len;
	size_t		 out_len;
	uint64_t	 out_total;
	char		 in[IO_INBUF + 1];
	char		 out[IO_OUTBUF];
};

void	io_init(struct io *, int in_fd, int out_fd, int timeout_seconds);
/* Reads the next line; *line points into the io buffer until next call. */
enum io_status io_getline(struct io *, char **line, size_t *len);
/* Bytes read from the client but not yet parsed (for the handover). */
size_t	io_pending(const struct io *, const char **bytes);
/* Puts bytes back as if the client had just sent them. */
int	io_preload(struct io *, const char *bytes, size_t len);
void	io_write(struct io *, const void *, size_t);
void	io_printf(struct io *, const char *, ...) PRINTF(2, 3);
int	io_flush(struct io *);

#endif
