#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "xio.h"

void
io_init(struct io *io, int in_fd, int out_fd, int timeout_seconds)
{
	int	 one = 1;

	memset(io, 0, sizeof(*io));
	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->timeout_ms = timeout_seconds * 1000;
	/*
	 * Non-blocking, so that both reads and writes wait in poll() with a
	 * timeout; TCP_NODELAY, because a reply's last small segment must not
	 * wait for the client's delayed ACK (the Nagle trap).
	 */
	(void)fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
	(void)fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
	(void)setsockopt(out_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int
io_flush(struct io *io)
{
	if (io->failed)
		return -1;
	if (io->out_len > 0 && write_all_timeout(io->out_fd, io->out,
	    io->out_len, io->timeout_ms) == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			log_warn("write to client");
		io->failed = 1;
		return -1;
	}
	io->out_total += io->out_len;
	io->out_len = 0;
	return 0;
}

void
io_write(struct io *io, const void *buf, size_t len)
{
	if (io->failed)
		return;
	if (len <= sizeof(io->out) - io->out_len) {
		memcpy(io->out + io->out_len, buf, len);
		io->out_len += len;
		return;
	}
	if (io_flush(io) == -1)
		return;
	if (len < sizeof(io->out)) {
		memcpy(io->out, buf, len);
		io->out_len = len;
		return;
	}
	/* A large block goes out directly rather than through the buffer. */
	if (write_all_timeout(io->out_fd, buf, len, io->timeout_ms) == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			log_warn("write to client");
		io->failed = 1;
		return;
	}
	io->out_total += len;
}

void
io_printf(struct io *io, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A truncated reply would be a lie on the wire: end the session. */
	if (n < 0 || (size_t)n >= sizeof(line))
		fatalx("%s: reply too long", __func__);
	io_write(io, line, (size_t)n);
}

size_t
io_pending(const struct io *io, const char **bytes)
{
	*bytes = io->in + io->in_start;
	return io->in_len;
}

int
io_preload(struct io *io, const char *bytes, size_t len)
{
	if (len > IO_INBUF)
		return -1;
	memcpy(io->in, bytes, len);
	io->in_start = 0;
	io->in_len = len;
	return 0;
}

/* Waits for input (flushing output first) and appends what came. */
static enum io_status
io_fill(struct io *io)
{
	struct pollfd	 pfd = { .fd = io->in_fd, .events = POLLIN };
	ssize_t		 n;

	if (io_flush(io) == -1)
		return IO_ERROR;
	if (io->in_start > 0) {
		memmove(io->in, io->in + io->in_start, io->in_len);
		io->in_start = 0;
	}
	for (;;) {
		n = read(io->in_fd, io->in + io->in_len,
		    IO_INBUF - io->in_len);
		if (n > 0) {
			io->in_len += (size_t)n;
			return IO_LINE;
		}
		if (n == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == ECONNRESET ? IO_EOF : IO_ERROR;
		n = poll(&pfd, 1, io->timeout_ms);
		if (n == 0)
			return IO_TIMEOUT;
		if (n == -1 && errno != EINTR)
			return IO_ERROR;
	}
}

enum io_status
io_getline(struct io *io, char **line, size_t *len)
{
	enum io_status	 st;
	char		*start, *lf;
	size_t		 n;

	for (;;) {
		start = io->in + io->in_start;
		lf = memchr(start, '\n', io->in_len);
		if (lf != NULL) {
			n = (size_t)(lf - start);
			io->in_start += n + 1;
			io->in_len -= n + 1;
			if (io->discarding || n + 1 > IO_LINE_MAX) {
				io->discarding = 0;
				return IO_TOO_LONG;
			}
			if (n > 0 && start[n - 1] == '\r')
				n--;
			start[n] = '\0';
			*line = start;
			*len = n;
			return IO_LINE;
		}
		if (io->discarding || io->in_len >= IO_LINE_MAX) {
			/* Over-long: drop what we have and keep dropping to LF. */
			io->discarding = 1;
			io->in_start = 0;
			io->in_len = 0;
		}
		if ((st = io_fill(io)) != IO_LINE)
			return st;
	}
}
