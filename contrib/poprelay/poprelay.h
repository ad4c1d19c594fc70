/*
 * POP-before-SMTP for Postfix (docs/onlogin.md has the recipe).
 *
 *   poprelay-add	the onlogin program: records POP3_CLIENT_ADDR in
 *			the spool (one file per address, its mtime the time
 *			of the last login), and when `map` is configured
 *			and the address is new, rewrites the map at once
 *   poprelay-update	from cron or a systemd timer: expires records
 *			older than the period and rewrites the map when it
 *			changed
 *
 * The map is a Postfix access table, "ADDRESS OK" lines, replaced by
 * rename(2) (and its postmap(1) database too, built under a temporary
 * name): Postfix sees the old or the new table, never half of one, and
 * notices the new one by itself (no reload).  Written in C rather than
 * sh so that the address from the environment is parsed and printed
 * back by inet_pton/inet_ntop (nothing else reaches a file name or the
 * map), and so that postmap runs through pop3d's one audited fork+exec.
 *
 * Safety rests on the spool: it must be writable only by the account
 * that runs poprelay-add (onlogin-user = poprelay), never by the mail
 * users, or any of them could open the relay to any address.  Both
 * programs refuse a spool that others can write.
 */
#ifndef POPRELAY_H
#define POPRELAY_H

#include <limits.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#define POPRELAY_SPOOL		"/var/spool/pop3d-relay"
#define POPRELAY_PERIOD		1800
#define POPRELAY_POSTMAP	"/usr/sbin/postmap"

struct poprelay_conf {
	char	 spool[PATH_MAX];
	long long period;		/* seconds a login opens the relay */
	char	 map[PATH_MAX];		/* "" none */
	int	 postmap;		/* run postmap on the map */
	char	 postmap_cmd[PATH_MAX];
	char	 postfix_config[PATH_MAX];	/* postmap -c; "" default */
	char	 map_type[16];		/* hash, btree, lmdb, cdb */
};

/*
 * Defaults, then the file (`file`, or the default one if it exists):
 * "key = value" lines, # comments.  0, or -1 after a message on stderr.
 */
int	poprelay_conf_load(struct poprelay_conf *, const char *file);

/*
 * The address as Postfix prints a client's: IPv4 dotted quad, IPv6 as
 * inet_ntop(3) (IPv4-mapped IPv6 becomes IPv4).  0, or -1 when `in` is
 * not an IP address.
 */
int	poprelay_addr(const char *in, char out[INET6_ADDRSTRLEN]);

/* Opens and locks (flock) the spool after checking who can write it. */
int	poprelay_spool_lock(const struct poprelay_conf *);

/*
 * Expires old records and rewrites the map if its contents changed (or
 * its database is missing).  `force`: rewrite anyway.  0 or -1 (said on
 * stderr).  The spool must be locked.
 */
int	poprelay_update(const struct poprelay_conf *, int spoolfd, int force);

#endif
