/*
 * poprelay-update [-f CONF] [-s SPOOL] [-p SECONDS] [-m] [MAPFILE]
 *
 * Run every minute (poprelay-update.timer, or the cron.d line): removes
 * the records older than the relay period and, when the set of
 * addresses changed, writes MAPFILE (default: `map` of the
 * configuration) as a Postfix access table, atomically; with -m (or
 * `postmap = yes`) it builds the table's database with postmap(1) under
 * a temporary name and renames it into place too.  Postfix notices the
 * new table by itself; nothing is restarted or reloaded.
 *
 * Quiet when all is well (cron mails what it prints); exit 0, or 1.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poprelay.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: poprelay-update [-m] [-f conf] [-s spool] "
	    "[-p seconds] [mapfile]\n");
	exit(64);
}

static void
set_path(char *dst, size_t len, const char *v)
{
	if (v[0] != '/' || strlcpy(dst, v, len) >= len)
		usage();
}

int
main(int argc, char **argv)
{
	struct poprelay_conf c;
	const char	*file = NULL, *spool = NULL, *period = NULL, *err;
	int		 ch, fd, rc, postmap = 0;

	while ((ch = getopt(argc, argv, "f:mp:s:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			break;
		case 'm':
			postmap = 1;
			break;
		case 'p':
			period = optarg;
			break;
		case 's':
			spool = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind < argc - 1)
		usage();
	if (poprelay_conf_load(&c, file) == -1)
		return 1;
	if (spool != NULL)
		set_path(c.spool, sizeof(c.spool), spool);
	if (optind == argc - 1)
		set_path(c.map, sizeof(c.map), argv[optind]);
	if (postmap)
		c.postmap = 1;
	if (period != NULL) {
		c.period = strtonum(period, 1, 366LL * 86400, &err);
		if (err != NULL || period[0] < '0' || period[0] > '9')
			usage();
	}
	if ((fd = poprelay_spool_lock(&c)) == -1)
		return 1;
	rc = poprelay_update(&c, fd, 0);
	close(fd);
	return rc == 0 ? 0 : 1;
}
