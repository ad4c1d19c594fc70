/*
 * poprelay-add [-f CONF] [-s SPOOL]
 *
 * The onlogin program of POP-before-SMTP (onlogin-user = poprelay):
 * records POP3_CLIENT_ADDR in SPOOL as a file named by the address,
 * written under a temporary name and renamed, so that two logins from
 * one address at once leave one complete record (the later one).  Its
 * mtime is the time of the login.  When the configuration names a map,
 * the map is brought up to date at once (under the spool's lock), so the
 * client can relay as soon as it has logged in.
 *
 * One line on stdout (pop3d logs it); exit 0, or 1 on error.  A client
 * that is not on an IP socket (a local test) is recorded nowhere: exit 0.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "poprelay.h"
#include "xio.h"

static void __attribute__((noreturn))
usage(void)
{
	printf("usage: poprelay-add [-f conf] [-s spool]\n");
	exit(64);
}

/* SPOOL/ADDR, replaced atomically. */
static int
record(int spoolfd, const char *addr,
    const char *user)
{
	char	 tmp[64], line[256];
	int	 fd, n;

	n = snprintf(line, sizeof(line), "%s %lld %s\n", addr,
	    (long long)time(NULL), user);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	(void)snprintf(tmp, sizeof(tmp), ".add.%ld", (long)getpid());
	fd = openat(spoolfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	if (write_all(fd, line, (size_t)n) != n || close(fd) == -1 ||
	    renameat(spoolfd, tmp, spoolfd, addr) == -1) {
		(void)unlinkat(spoolfd, tmp, 0);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct poprelay_conf c;
	const char	*file = NULL, *spool = NULL, *raw, *user;
	char		 addr[INET6_ADDRSTRLEN];
	int		 ch, fd, rc = 0;

	while ((ch = getopt(argc, argv, "f:s:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 's':
			spool = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (poprelay_conf_load(&c, file) == -1) {
		printf("poprelay: error: configuration\n");
		return 1;
	}
	if (spool != NULL && (spool[0] != '/' ||
	    strlcpy(c.spool, spool, sizeof(c.spool)) >= sizeof(c.spool)))
		usage();
	raw = getenv("POP3_CLIENT_ADDR");
	/* Only for the admin's eyes; pop3d's name rules, checked again. */
	if ((user = getenv("POP3_USER")) == NULL || *user == '\0' ||
	    strlen(user) > 128 || strspn(user, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+=@-") != strlen(user))
		user = "-";
	if (raw == NULL || poprelay_addr(raw, addr) == -1) {
		printf("poprelay: client is not on an IP socket: nothing "
		    "recorded\n");
		return 0;
	}
	if ((fd = poprelay_spool_lock(&c)) == -1) {
		printf("poprelay: error: spool %s\n", c.spool);
		return 1;
	}
	if (record(fd, addr, user) == -1) {
		printf("poprelay: error: spool %s: %s\n", c.spool,
		    strerror(errno));
		rc = 1;
	} else if (c.map[0] != '\0' && poprelay_update(&c, fd, 0) == -1) {
		printf("poprelay: recorded %s; error: map %s\n", addr, c.map);
		rc = 1;
	} else
		printf("poprelay: recorded %s\n", addr);
	close(fd);
	return rc;
}
