/*
 * What poprelay-add and poprelay-update share: the configuration file,
 * the address rules, the spool lock, and the map writer.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "poprelay.h"
#include "spawn.h"
#include "xio.h"

#define POPRELAY_CONF	SYSCONFDIR "/pop3d/poprelay.conf"
#define MAP_MAX		(16 * 1024 * 1024)

static const struct { const char *type, *suffix; } map_types[] = {
	{ "hash", ".db" }, { "btree", ".db" }, { "lmdb", ".lmdb" },
	{ "cdb", ".cdb" },
};

static const char *
map_suffix(const char *type)
{
	size_t	 i;

	for (i = 0; i < sizeof(map_types) / sizeof(map_types[0]); i++)
		if (strcmp(map_types[i].type, type) == 0)
			return map_types[i].suffix;
	return NULL;
}

static const char *
conf_path(const char *v, char *out, size_t len)
{
	if (v[0] != '/')
		return "must be an absolute path";
	if (strlcpy(out, v, len) >= len)
		return "too long";
	return NULL;
}

static const char *
conf_set(struct poprelay_conf *c, const char *k, const char *v)
{
	const char	*err = NULL;

	if (strcmp(k, "spool") == 0)
		return conf_path(v, c->spool, sizeof(c->spool));
	if (strcmp(k, "map") == 0)
		return conf_path(v, c->map, sizeof(c->map));
	if (strcmp(k, "postmap-command") == 0)
		return conf_path(v, c->postmap_cmd, sizeof(c->postmap_cmd));
	if (strcmp(k, "postfix-config") == 0)
		return conf_path(v, c->postfix_config,
		    sizeof(c->postfix_config));
	if (strcmp(k, "period") == 0) {
		c->period = strtonum(v, 1, 366LL * 86400, &err);
		return isdigit((unsigned char)v[0]) ? err : "not a number";
	}
	if (strcmp(k, "postmap") == 0) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return "expected yes or no";
		c->postmap = strcmp(v, "yes") == 0;
		return NULL;
	}
	if (strcmp(k, "map-type") == 0) {
		if (map_suffix(v) == NULL)
			return "expected hash, btree, lmdb or cdb";
		strlcpy(c->map_type, v, sizeof(c->map_type));
		return NULL;
	}
	return "unknown key";
}

static char *
trim(char *s)
{
	char	*e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int
poprelay_conf_load(struct poprelay_conf *c, const char *file)
{
	const char	*path = file != NULL ? file : POPRELAY_CONF, *err;
	char		 line[1024], *k, *v, *eq;
	FILE		*f;
	int		 lineno = 0, bad = 0;

	memset(c, 0, sizeof(*c));
	strlcpy(c->spool, POPRELAY_SPOOL, sizeof(c->spool));
	c->period = POPRELAY_PERIOD;
	strlcpy(c->postmap_cmd, POPRELAY_POSTMAP, sizeof(c->postmap_cmd));
	strlcpy(c->map_type, "hash", sizeof(c->map_type));
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && file == NULL)
			return 0;
		fprintf(stderr, "poprelay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if ((k = strchr(line, '#')) != NULL)
			*k = '\0';
		if (*(k = trim(line)) == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL)
			err = "expected key = value";
		else {
			*eq = '\0';
			v = trim(eq + 1);
			err = conf_set(c, trim(k), v);
		}
		if (err != NULL) {
			fprintf(stderr, "poprelay: %s:%d: %s\n", path, lineno,
			    err);
			bad = 1;
		}
	}
	fclose(f);
	return bad ? -1 : 0;
}

int
poprelay_addr(const char *in, char out[INET6_ADDRSTRLEN])
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (inet_pton(AF_INET, in, &a4) == 1)
		return inet_ntop(AF_INET, &a4, out, INET6_ADDRSTRLEN) ? 0 : -1;
	if (inet_pton(AF_INET6, in, &a6) != 1)
		return -1;
	/* A v4 client seen on a dual-stack socket: Postfix sees it as v4. */
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		memcpy(&a4, &a6.s6_addr[12], 4);
		return inet_ntop(AF_INET, &a4, out, INET6_ADDRSTRLEN) ? 0 : -1;
	}
	return inet_ntop(AF_INET6, &a6, out, INET6_ADDRSTRLEN) ? 0 : -1;
}

int
poprelay_spool_lock(const struct poprelay_conf *c)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(c->spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "poprelay: spool %s: %s\n", c->spool,
		    strerror(errno));
		return -1;
	}
	/* Records others could write would open the relay to anyone. */
	if (fstat(fd, &st) == -1 || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
	    (st.st_uid != geteuid() && geteuid() != 0)) {
		fprintf(stderr, "poprelay: spool %s: must be owned by uid %lu "
		    "and writable by it alone\n", c->spool,
		    (unsigned long)geteuid());
		close(fd);
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			fprintf(stderr, "poprelay: spool %s: flock: %s\n",
			    c->spool, strerror(errno));
			close(fd);
			return -1;
		}
	return fd;
}

struct text {
	char	*buf;
	size_t	 len, cap;
};

static int
text_add(struct text *t, const char *s)
{
	size_t	 n = strlen(s);
	char	*p;

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if (t->cap > MAP_MAX || (p = realloc(t->buf, t->cap)) == NULL)
			return -1;
		t->buf = p;
	}
	memcpy(t->buf + t->len, s, n + 1);
	t->len += n;
	return 0;
}

static int
line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * What a killed poprelay-add or -update left: its temporary files
 * (".add.PID", ".MAP.XXXXXX" and its database), after an hour.
 */
static void
spool_stale_tmp(const struct poprelay_conf *c, int spoolfd, const char *name,
    time_t now)
{
	const char	*base = strrchr(c->map, '/');
	struct stat	 st;
	size_t		 n;

	n = base != NULL ? strlen(base + 1) : 0;
	if (strncmp(name, ".add.", 5) != 0 && (n == 0 ||
	    strncmp(name + 1, base + 1, n) != 0 || name[n + 1] != '.'))
		return;
	if (fstatat(spoolfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && now - st.st_mtime > 3600)
		(void)unlinkat(spoolfd, name, 0);
}

/*
 * The live records as "ADDRESS OK" lines, sorted; the expired ones are
 * removed.  Names that are not an address in canonical form (temporary
 * files, the map itself) are left alone.
 */
static int
spool_scan(const struct poprelay_conf *c, int spoolfd, struct text *out)
{
	char		 addr[INET6_ADDRSTRLEN], **lines = NULL, **nl;
	struct dirent	*de;
	struct stat	 st;
	time_t		 now = time(NULL);
	size_t		 n = 0, i;
	DIR		*d;
	int		 fd, rc = -1;

	if ((fd = dup(spoolfd)) == -1 || (d = fdopendir(fd)) == NULL)
		return -1;
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.') {
			spool_stale_tmp(c, spoolfd, de->d_name, now);
			continue;
		}
		if (poprelay_addr(de->d_name, addr) == -1 ||
		    strcmp(addr, de->d_name) != 0 ||
		    fstatat(spoolfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1 || !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime > c->period) {
			if (unlinkat(spoolfd, de->d_name, 0) == -1)
				goto out;
			continue;
		}
		if ((nl = reallocarray(lines, n + 1, sizeof(*lines))) == NULL)
			goto out;
		lines = nl;
		if ((lines[n] = strdup(addr)) == NULL)
			goto out;
		n++;
	}
	if (n > 0)
		qsort(lines, n, sizeof(*lines), line_cmp);
	rc = text_add(out, "# pop3d POP-before-SMTP clients: written by "
	    "poprelay-update, do not edit\n");
	for (i = 0; rc == 0 && i < n; i++)
		if (text_add(out, lines[i]) == -1 || text_add(out, " OK\n") ==
		    -1)
			rc = -1;
out:
	if (rc == -1)
		fprintf(stderr, "poprelay: spool %s: %s\n", c->spool,
		    strerror(errno));
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	closedir(d);
	return rc;
}

/* Is the map already `want`, and its database no older than it? */
static int
map_current(const struct poprelay_conf *c, const struct text *want)
{
	struct stat	 st, db;
	char		 dbpath[PATH_MAX + 8], *buf;
	int		 fd, same = 0;

	if ((fd = open(c->map, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &st) == 0 && (size_t)st.st_size == want->len &&
	    (buf = malloc(want->len + 1)) != NULL) {
		same = read_full(fd, buf, want->len) == (ssize_t)want->len &&
		    memcmp(buf, want->buf, want->len) == 0;
		free(buf);
	}
	close(fd);
	if (same && c->postmap) {
		(void)snprintf(dbpath, sizeof(dbpath), "%s%s", c->map,
		    map_suffix(c->map_type));
		same = stat(dbpath, &db) == 0 && db.st_mtime >= st.st_mtime;
	}
	return same;
}

/* postmap TYPE:FILE through the audited spawn_start(). */
static int
run_postmap(const struct poprelay_conf *c, const char *file)
{
	char	 arg[PATH_MAX + 32], *argv[5];
	char	*envp[] = { "PATH=/usr/sbin:/usr/bin:/bin", NULL };
	struct spawn sp = { .stderr_fd = 2 };
	enum spawn_stage st;
	int	 n = 0, status;
	pid_t	 pid;

	(void)snprintf(arg, sizeof(arg), "%s:%s", c->map_type, file);
	argv[n++] = (char *)c->postmap_cmd;
	if (c->postfix_config[0] != '\0') {
		argv[n++] = "-c";
		argv[n++] = (char *)c->postfix_config;
	}
	argv[n++] = arg;
	argv[n] = NULL;
	sp.path = c->postmap_cmd;
	sp.argv = argv;
	sp.envp = envp;
	if ((pid = spawn_start(&sp, NULL, &st)) == -1) {
		fprintf(stderr, "poprelay: %s: %s: %s\n", c->postmap_cmd,
		    spawn_stage_name(st), strerror(errno));
		return -1;
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "poprelay: %s failed (status %d)\n",
		    c->postmap_cmd, WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status));
		return -1;
	}
	return 0;
}

/* Writes the text under a temporary name beside the map; its path. */
static int
map_write_tmp(const struct poprelay_conf *c, const struct text *t,
    char *tmp, size_t len)
{
	const char	*slash = strrchr(c->map, '/');
	int		 fd;

	if (snprintf(tmp, len, "%.*s/.%s.XXXXXX", (int)(slash - c->map),
	    c->map, slash + 1) >= (int)len)
		return -1;
	if ((fd = mkstemp(tmp)) == -1)
		return -1;
	/* Postfix's smtpd reads it as user postfix. */
	if (fchmod(fd, 0644) == -1 || write_all(fd, t->buf, t->len) !=
	    (ssize_t)t->len || fsync(fd) == -1) {
		close(fd);
		(void)unlink(tmp);
		return -1;
	}
	return close(fd);
}

static int
map_install(const struct poprelay_conf *c, const struct text *t)
{
	char	 tmp[PATH_MAX], tmpdb[PATH_MAX + 8], db[PATH_MAX + 8];
	const char *sfx = map_suffix(c->map_type);

	if (map_write_tmp(c, t, tmp, sizeof(tmp)) == -1) {
		fprintf(stderr, "poprelay: map %s: %s\n", c->map,
		    strerror(errno));
		return -1;
	}
	if (c->postmap) {
		(void)snprintf(tmpdb, sizeof(tmpdb), "%s%s", tmp, sfx);
		(void)snprintf(db, sizeof(db), "%s%s", c->map, sfx);
		if (run_postmap(c, tmp) == -1 || chmod(tmpdb, 0644) == -1 ||
		    rename(tmpdb, db) == -1) {
			fprintf(stderr, "poprelay: map %s: postmap or rename "
			    "failed\n", c->map);
			(void)unlink(tmpdb);
			(void)unlink(tmp);
			return -1;
		}
	}
	if (rename(tmp, c->map) == -1) {
		fprintf(stderr, "poprelay: map %s: %s\n", c->map,
		    strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
poprelay_update(const struct poprelay_conf *c, int spoolfd, int force)
{
	struct text	 t = { NULL, 0, 0 };
	int		 rc = -1;

	if (c->map[0] == '\0' || map_suffix(c->map_type) == NULL) {
		fprintf(stderr, "poprelay: no map file named\n");
		return -1;
	}
	if (spool_scan(c, spoolfd, &t) == 0)
		rc = (!force && map_current(c, &t)) ? 0 : map_install(c, &t);
	free(t.buf);
	return rc;
}
