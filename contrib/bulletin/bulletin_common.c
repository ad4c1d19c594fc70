/*
 * What every part of bulletin(8) uses (bulletin.h): the first error,
 * kept for the one output line; the crash points of the tests; the rule
 * for bulletin names, which become file names in the maildrop and lines
 * in the record.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulletin.h"

static char	 errbuf[512];

int
bulletin_error(const char *fmt, ...)
{
	va_list	 ap;

	if (errbuf[0] == '\0') {
		va_start(ap, fmt);
		(void)vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
		va_end(ap);
	}
	return -1;
}

int
bulletin_crash_wanted(const char *point)
{
	const char	*want = getenv("BULLETIN_CRASH");

	return want != NULL && strcmp(want, point) == 0;
}

void
bulletin_crash_point(const char *point)
{
	if (bulletin_crash_wanted(point))
		(void)raise(SIGKILL);
}

/* NAME.msg, at most 64 of [A-Za-z0-9._-], not starting with '.' or '-'. */
int
bulletin_name_valid(const char *name)
{
	size_t	 n = strlen(name);

	return n >= 5 && n <= BULLETIN_NAME_MAX &&
	    strcmp(name + n - 4, ".msg") == 0 &&
	    name[0] != '.' && name[0] != '-' &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

const char *
bulletin_error_text(void)
{
	return errbuf;
}
