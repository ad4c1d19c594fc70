/*
 * The bounded line reader (session/io.c) over a socketpair: lines with
 * CRLF or LF, pipelined bursts, over-long lines discarded without being
 * stored, EOF, idle timeout, and the handover of unparsed bytes.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io.h"
#include "xio.h"

static struct io io;

static void
pair(int sp[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		abort();
	io_init(&io, sp[0], sp[0], 1);
}

static enum io_status
next(char **line, size_t *len)
{
	return io_getline(&io, line, len);
}

static void
test_lines(void)
{
	int	 sp[2];
	char	*line;
	size_t	 len;
	const char burst[] = "USER a\r\nPASS b c\nNOOP\r\nlast";

	pair(sp);
	write_all(sp[1], burst, sizeof(burst) - 1);
	CHECK(next(&line, &len) == IO_LINE && strcmp(line, "USER a") == 0 &&
	    len == 6);
	CHECK(next(&line, &len) == IO_LINE && strcmp(line, "PASS b c") == 0);
	CHECK(next(&line, &len) == IO_LINE && strcmp(line, "NOOP") == 0);
	{
		const char *p;

		CHECK(io_pending(&io, &p) == 4 && memcmp(p, "last", 4) == 0);
	}
	close(sp[1]);
	CHECK(next(&line, &len) == IO_EOF);
	close(sp[0]);
}

static void
test_nul_kept(void)
{
	int	 sp[2];
	char	*line;
	size_t	 len;

	pair(sp);
	write_all(sp[1], "RE\0TR 1\r\n", 9);
	CHECK(next(&line, &len) == IO_LINE && len == 7 &&
	    memchr(line, '\0', len) != NULL);
	close(sp[1]);
	close(sp[0]);
}

static void
test_too_long(void)
{
	int	 sp[2];
	char	*line, *big;
	size_t	 len, n = 1024 * 1024;

	pair(sp);
	if ((big = malloc(n)) == NULL)
		abort();
	memset(big, 'A', n);
	if (fork() == 0) {
		close(sp[0]);
		write_all(sp[1], big, n);
		write_all(sp[1], "\r\nNOOP\r\n", 8);
		_exit(0);
	}
	close(sp[1]);
	CHECK(next(&line, &len) == IO_TOO_LONG);
	CHECK(next(&line, &len) == IO_LINE && strcmp(line, "NOOP") == 0);
	CHECK(next(&line, &len) == IO_EOF);
	close(sp[0]);
	free(big);

	/* Exactly at the limit is still a line; one more octet is not. */
	pair(sp);
	memset(big = malloc(IO_LINE_MAX + 2), 'B', IO_LINE_MAX + 2);
	big[IO_LINE_MAX - 1] = '\n';
	write_all(sp[1], big, IO_LINE_MAX);
	CHECK(next(&line, &len) == IO_LINE && len == IO_LINE_MAX - 1);
	big[IO_LINE_MAX - 1] = 'B';
	big[IO_LINE_MAX] = '\n';
	write_all(sp[1], big, IO_LINE_MAX + 1);
	CHECK(next(&line, &len) == IO_TOO_LONG);
	free(big);
	close(sp[1]);
	close(sp[0]);
}

static void
test_timeout_and_preload(void)
{
	int	 sp[2];
	char	*line;
	size_t	 len;

	pair(sp);
	CHECK(next(&line, &len) == IO_TIMEOUT);
	CHECK(io_preload(&io, "STAT\r\nQU", 8) == 0);
	CHECK(next(&line, &len) == IO_LINE && strcmp(line, "STAT") == 0);
	write_all(sp[1], "IT\r\n", 4);
	CHECK(next(&line, &len) == IO_LINE && strcmp(line, "QUIT") == 0);
	close(sp[1]);
	close(sp[0]);
}

static void
test_output(void)
{
	int	 sp[2];
	char	 buf[64];
	char	*line;
	size_t	 len;

	pair(sp);
	io_printf(&io, "+OK %d\r\n", 42);
	write_all(sp[1], "X\r\n", 3);
	/* Reading flushes pending replies first. */
	CHECK(next(&line, &len) == IO_LINE);
	CHECK(read(sp[1], buf, sizeof(buf)) == 8 && memcmp(buf, "+OK 42\r\n",
	    8) == 0);
	close(sp[1]);
	close(sp[0]);
}

int
main(void)
{
	log_init(1);
	test_lines();
	test_nul_kept();
	test_too_long();
	test_timeout_and_preload();
	test_output();
	CHECK_DONE();
}
