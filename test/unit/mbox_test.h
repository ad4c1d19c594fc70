/*
 * Helpers shared by the mbox unit tests: scratch directories, mbox files
 * built from messages, and reading messages back through maildrop_ops
 * exactly as the session does.
 */
#ifndef POP3D_MBOX_TEST_H
#define POP3D_MBOX_TEST_H

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mbox.h"
#include "xio.h"

/* A scratch directory under /var/tmp (never /tmp, as pop3d itself). */
static inline void
t_mkdir(char *out, size_t len, const char *tag)
{
	snprintf(out, len, "/var/tmp/pop3d-%s.XXXXXX", tag);
	if (mkdtemp(out) == NULL || chmod(out, 0755) == -1) {
		perror("mkdtemp");
		exit(2);
	}
}

static inline void
t_rmdir(const char *dir)
{
	char		 p[4096];
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) == -1 && errno == EISDIR)
			t_rmdir(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

static inline void
t_write(const char *path, const void *p, size_t n, int append)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC),
	    0600);
	if (fd == -1 || write_all(fd, p, n) != (ssize_t)n || close(fd) == -1) {
		perror(path);
		exit(2);
	}
}

static inline size_t
t_read(const char *path, char *buf, size_t len)
{
	int	 fd = open(path, O_RDONLY);
	ssize_t	 n;

	if (fd == -1)
		return (size_t)-1;
	n = read_full(fd, buf, len);
	close(fd);
	return (size_t)n;
}

/* One message as an MDA stores it: From_ line, text, separator. */
static inline size_t
t_msg(char *out, size_t len, const char *from, const char *text)
{
	int	 n;

	n = snprintf(out, len, "From %s Sat Nov 21 08:40:00 2025\n%s\n", from,
	    text);
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

static inline void
t_append_msg(const char *path, const char *from, const char *text)
{
	size_t	 len = strlen(text) + strlen(from) + 64, n;
	char	*buf = malloc(len);

	n = t_msg(buf, len, from, text);
	t_write(path, buf, n, 1);
	free(buf);
}

/* Names in dir that contain `part` (our journal and temp files). */
static inline int
t_count_names(const char *dir, const char *part)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, part) != NULL)
			n++;
	closedir(d);
	return n;
}

/*
 * The state directory the tests give the maildrop: STATEDIR (a 0700
 * directory of the caller's), or by default DIR/state beside the mbox,
 * made on first use.  -1 when it cannot be opened.
 */
static inline int
t_state_fd(const char *path, const char *statedir)
{
	char	 p[4096], *slash;

	if (statedir == NULL) {
		snprintf(p, sizeof(p), "%s", path);
		if ((slash = strrchr(p, '/')) != NULL)
			*slash = '\0';
		strlcat(p, "/state", sizeof(p));
		(void)mkdir(p, 0700);
		statedir = p;
	}
	return open(statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static inline enum md_status
t_open_state(struct maildrop *md, const char *path, const char *statedir)
{
	enum md_status	 st;
	int		 fd = t_state_fd(path, statedir);

	memset(md, 0, sizeof(*md));
	md->ops = &mbox_ops;
	md->statefd = fd;
	st = maildrop_open(md, path);
	/* The maildrop keeps no claim on it: a descriptor per open leaks. */
	if (st != MD_OK && fd != -1) {
		(void)close(fd);
		md->statefd = -1;
	}
	return st;
}

static inline enum md_status
t_open(struct maildrop *md, const char *path)
{
	return t_open_state(md, path, NULL);
}

/* Closes what t_open opened. */
static inline void
t_close(struct maildrop *md)
{
	md->ops->close(md);
	if (md->statefd >= 0)
		(void)close(md->statefd);
	md->statefd = -1;
}

/* Removes the recovery records in DIR/state, as an administrator would. */
static inline void
t_rmdir_names(const char *dir)
{
	char		 p[4096], f[4096 + 260];
	struct dirent	*de;
	DIR		*d;

	snprintf(p, sizeof(p), "%s/state", dir);
	if ((d = opendir(p)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".journal") != NULL) {
			snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
			(void)unlink(f);
		}
	closedir(d);
}

/* Complete recovery records (not temp files) in DIR/state. */
static inline int
t_records(const char *dir)
{
	char		 p[4096];
	struct dirent	*de;
	DIR		*d;
	size_t		 n;
	int		 count = 0;

	snprintf(p, sizeof(p), "%s/state", dir);
	if ((d = opendir(p)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if ((n = strlen(de->d_name)) > 8 &&
		    strcmp(de->d_name + n - 8, ".journal") == 0)
			count++;
	closedir(d);
	return count;
}

/* Recovery records (and their temp files) in DIR/state. */
static inline int
t_journals(const char *dir)
{
	char	 p[4096];

	snprintf(p, sizeof(p), "%s/state", dir);
	return t_count_names(p, ".journal");
}

/* The stored bytes of message i, NUL-terminated, in a malloc'ed buffer. */
static inline char *
t_get(struct maildrop *md, size_t i, size_t *lenp)
{
	struct md_source	 src;
	char			*buf;

	if (md->ops->source(md, i, &src) != MD_OK ||
	    (buf = malloc(src.length + 1)) == NULL)
		return NULL;
	if (pread_full(src.fd, buf, src.length, (off_t)src.offset) !=
	    (ssize_t)src.length) {
		free(buf);
		return NULL;
	}
	buf[src.length] = '\0';
	if (lenp != NULL)
		*lenp = src.length;
	return buf;
}

/* Does the maildrop at path hold exactly these texts, in order? */
static inline int
t_holds(const char *path, const char *const *texts, size_t n)
{
	struct maildrop		 md;
	struct crlf_state	 st;
	uint64_t		 size, sz;
	char			*m, fin[2];
	size_t			 i, len;
	int			 ok = 1;

	if (t_open(&md, path) != MD_OK) {
		t_close(&md);
		return 0;
	}
	if (md.count != n)
		ok = 0;
	for (i = 0; ok && i < n; i++) {
		m = t_get(&md, i, &len);
		if (m == NULL || len != strlen(texts[i]) ||
		    memcmp(m, texts[i], len) != 0)
			ok = 0;
		crlf_init(&st, -1);
		sz = m ? crlf_measure(&st, m, len) + crlf_finish(&st, fin) : 0;
		if (md.ops->size(&md, i, &size) != MD_OK || size != sz)
			ok = 0;
		free(m);
	}
	t_close(&md);
	return ok;
}

/* Runs fn in a child process; returns its exit status (or 128+sig). */
static inline int
t_child(int (*fn)(void *), void *arg)
{
	pid_t	 pid;
	int	 st;

	fflush(NULL);
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0)
		_exit(fn(arg));
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			exit(2);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
