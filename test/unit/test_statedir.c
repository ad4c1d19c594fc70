/*
 * The state directory (common/statedir.c) on real directories: what root
 * makes (STATE 0711, STATE/UID 0700 of the user), what it refuses (a
 * symlink, a wrong owner or mode at any step, a ".." component), the key
 * of a maildrop, the file checks, and the session lock: held, released
 * with the descriptor, and never taken through a file that is not ours.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "statedir.h"

static char	 top[64];

static void
at(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", top, rel);
}

static int
mode_of(const char *p)
{
	struct stat	 st;

	return lstat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void
test_made(void)
{
	char	 base[128], uid[160];
	struct stat st;
	int	 fd;

	at(base, sizeof(base), "made/state");
	CHECK((fd = statedir_open(base, 5001, 5001)) != -1);
	close(fd);
	CHECK(mode_of(base) == (geteuid() == 0 ? 0711 : 0700));
	snprintf(uid, sizeof(uid), "%s/5001", base);
	CHECK(lstat(uid, &st) == 0 && st.st_uid == (geteuid() == 0 ? 5001 :
	    geteuid()) && (st.st_mode & 07777) == 0700);
	/* Twice is the same. */
	CHECK((fd = statedir_open(base, 5001, 5001)) != -1);
	close(fd);
}

static void
test_refused(void)
{
	char	 base[128], p[160];
	int	 fd;

	/* BASE a symlink to a good directory. */
	at(p, sizeof(p), "real");
	CHECK(mkdir(p, 0711) == 0);
	at(base, sizeof(base), "link");
	CHECK(symlink(p, base) == 0);
	CHECK(statedir_open(base, 5001, 5001) == -1);
	/* A symlink on the way. */
	at(base, sizeof(base), "link/sub");
	CHECK(statedir_open(base, 5001, 5001) == -1);
	/* BASE writable by others. */
	at(base, sizeof(base), "open");
	CHECK(mkdir(base, 0777) == 0 && chmod(base, 0777) == 0);
	CHECK(statedir_open(base, 5001, 5001) == -1);
	/* ".." */
	at(base, sizeof(base), "real/../real");
	CHECK(statedir_open(base, 5001, 5001) == -1);
	/* STATE/UID with a wrong mode, or a symlink. */
	at(base, sizeof(base), "real");
	snprintf(p, sizeof(p), "%s/5002", base);
	CHECK(mkdir(p, 0755) == 0 && chmod(p, 0755) == 0);
	CHECK(statedir_open(base, 5002, 5002) == -1);
	snprintf(p, sizeof(p), "%s/5003", base);
	CHECK(symlink("/tmp", p) == 0);
	CHECK(statedir_open(base, 5003, 5003) == -1);
	if (geteuid() != 0)
		return;
	/* STATE/UID of another uid; BASE of another owner. */
	snprintf(p, sizeof(p), "%s/5004", base);
	CHECK(mkdir(p, 0700) == 0 && chown(p, 5999, 5999) == 0);
	CHECK(statedir_open(base, 5004, 5004) == -1);
	at(base, sizeof(base), "theirs");
	CHECK(mkdir(base, 0711) == 0 && chown(base, 5999, 5999) == 0);
	CHECK(statedir_open(base, 5001, 5001) == -1);
	/* The good one still works. */
	at(base, sizeof(base), "real");
	CHECK((fd = statedir_open(base, 5001, 5001)) != -1);
	close(fd);
}

static int
lock_in_child(int dfd, const char *key)
{
	pid_t	 pid;
	int	 st, fd;

	if ((pid = fork()) == 0) {
		fd = statedir_lock(dfd, key);
		_exit(fd == STATEDIR_BUSY ? 2 : fd >= 0 ? 0 : 1);
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void
test_files_and_lock(void)
{
	char	 dir[128], key[STATEDIR_KEY_MAX], key2[STATEDIR_KEY_MAX];
	char	 p[200];
	int	 dfd, fd, l;

	at(dir, sizeof(dir), "files");
	CHECK(mkdir(dir, 0700) == 0);
	CHECK((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1);
	/* The key: the same for two descriptors of one file, not another. */
	CHECK(statedir_key(dfd, key) == 0 && strchr(key, '-') != NULL);
	CHECK((fd = open(dir, O_RDONLY)) != -1 && statedir_key(fd, key2) == 0);
	close(fd);
	CHECK(strcmp(key, key2) == 0);
	CHECK(statedir_key(0, key2) == 0 && strcmp(key, key2) != 0);
	/* Files: missing, made 0600, never through a symlink or hard link. */
	CHECK(statedir_file(dfd, "k", ".x", O_RDONLY) == -1 && errno == ENOENT);
	CHECK((fd = statedir_file(dfd, "k", ".x", O_RDWR | O_CREAT)) != -1);
	close(fd);
	snprintf(p, sizeof(p), "%s/k.x", dir);
	CHECK(mode_of(p) == 0600);
	snprintf(p, sizeof(p), "%s/s.x", dir);
	CHECK(symlink("k.x", p) == 0);
	CHECK(statedir_file(dfd, "s", ".x", O_RDONLY) == -1);
	snprintf(p, sizeof(p), "%s/h.x", dir);
	CHECK(linkat(dfd, "k.x", AT_FDCWD, p, 0) == 0);
	CHECK(statedir_file(dfd, "h", ".x", O_RDONLY) == -1 && errno == EPERM);
	CHECK(statedir_file(dfd, "a/b", "", O_RDONLY) == -1);
	/* The lock: held while the descriptor is open, then free. */
	CHECK((l = statedir_lock(dfd, key)) >= 0);
	CHECK(lock_in_child(dfd, key) == 2);
	close(l);
	CHECK(lock_in_child(dfd, key) == 0);
	/* A lock file that is not a plain file of ours: fail closed. */
	snprintf(p, sizeof(p), "%s/planted.lock", dir);
	CHECK(mkfifo(p, 0600) == 0);
	CHECK(statedir_lock(dfd, "planted") == -1);
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/theirs.lock", dir);
		CHECK((fd = open(p, O_RDWR | O_CREAT, 0666)) != -1 &&
		    fchown(fd, 5999, 5999) == 0);
		close(fd);
		CHECK(statedir_lock(dfd, "theirs") == -1);
	}
	close(dfd);
}

int
main(void)
{
	char	 cmd[128];

	log_init(0);
	snprintf(top, sizeof(top), "/var/tmp/pop3d-statedir.XXXXXX");
	if (mkdtemp(top) == NULL || chmod(top, 0755) == -1) {
		perror("mkdtemp");
		return 2;
	}
	test_made();
	test_refused();
	test_files_and_lock();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	CHECK_DONE();
}
