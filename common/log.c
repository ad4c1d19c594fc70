#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int copy_to_stderr;

void
log_init(int to_stderr)
{
	copy_to_stderr = to_stderr;
	/*
	 * LOG_NDELAY connects to /dev/log now, so that the pre-auth child
	 * keeps its syslog socket after it has chrooted to an empty dir.
	 */
	openlog("pop3d", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int
log_to_stderr(void)
{
	return copy_to_stderr;
}

static void log_vwrite(int, const char *, va_list, int)
    __attribute__((format(printf, 2, 0)));

static void
log_vwrite(int prio, const char *fmt, va_list ap, int with_errno)
{
	char	 msg[1024];
	int	 saved = errno;

	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		strlcpy(msg, "(log format error)", sizeof(msg));
	if (with_errno) {
		size_t	 n = strlen(msg);

		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	syslog(prio, "%s", msg);
	if (copy_to_stderr)
		fprintf(stderr, "pop3d[%ld]: %s\n", (long)getpid(), msg);
	errno = saved;
}

#define LOG_FN(fn, prio, err)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	log_vwrite(prio, fmt, ap, err);			\
	va_end(ap);					\
}

LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_notice, LOG_NOTICE, 0)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_warn, LOG_WARNING, 1)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

char *
log_escape(const char *s, size_t slen, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, o = 0;

	if (len == 0)
		return buf;
	for (i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x21 && c < 0x7f && c != '\\') {
			if (o + 1 >= len)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 >= len)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}
