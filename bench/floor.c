/*
 * floor: the cheapest thing that can answer the benchmark's short session
 * (USER, PASS, STAT, QUIT) honestly: one exec by the listener, one
 * getspnam(3) and one crypt(3) of the password against the user's shadow
 * hash, and four canned replies.  Whatever a real POP3 server spends above
 * this is its own cost.  Built by bench/run.py; not part of pop3d.
 */
#include <crypt.h>
#include <shadow.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void
floor_reply(const char *s)
{
	size_t	 len = strlen(s);

	if (write(1, s, len) != (ssize_t)len)
		_exit(1);
}

/* Read one line (CRLF or LF) into buf; 0 on EOF or error. */
static int
floor_getline(char *buf, size_t size)
{
	static char	 in[1024];
	static size_t	 have, off;
	size_t		 n = 0;
	ssize_t		 r;
	char		 c;

	for (;;) {
		if (off == have) {
			if ((r = read(0, in, sizeof(in))) <= 0)
				return (0);
			have = (size_t)r;
			off = 0;
		}
		if ((c = in[off++]) == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (1);
}

static int
floor_check(const char *user, const char *pass)
{
	struct crypt_data	 cd;
	struct spwd		*sp;
	const char		*h;

	if ((sp = getspnam(user)) == NULL)
		return (0);
	memset(&cd, 0, sizeof(cd));
	h = crypt_r(pass, sp->sp_pwdp, &cd);
	return (h != NULL && strcmp(h, sp->sp_pwdp) == 0);
}

int
main(void)
{
	char	 line[1024], user[sizeof(line)] = "";

	floor_reply("+OK floor\r\n");
	while (floor_getline(line, sizeof(line))) {
		if (strncasecmp(line, "USER ", 5) == 0) {
			snprintf(user, sizeof(user), "%s", line + 5);
			floor_reply("+OK\r\n");
		} else if (strncasecmp(line, "PASS ", 5) == 0) {
			floor_reply(floor_check(user, line + 5) ? "+OK\r\n" :
			    "-ERR\r\n");
		} else if (strcasecmp(line, "STAT") == 0) {
			floor_reply("+OK 0 0\r\n");
		} else if (strcasecmp(line, "QUIT") == 0) {
			floor_reply("+OK\r\n");
			return (0);
		} else
			floor_reply("-ERR\r\n");
	}
	return (0);
}
