/*
 * pop3d -R: the records that killed sessions left in state-dir are
 * finished at boot, before any MDA runs, so that no reader of an mbox
 * ever waits for the user's next login to see it whole (docs/mbox.md
 * "Commit").  Root only lists directories; each record is finished by a
 * child that has dropped to the uid that owns the record's directory,
 * exactly as that user's session watcher would, so root never opens a
 * maildrop or parses a record.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "log.h"
#include "maildrop.h"
#if WITH_MAILDROP_MBOX
#include "mbox.h"
#endif
#include "priv.h"
#include "recover.h"
#include "statedir.h"

/* Only mbox leaves records: without it there is nothing to finish. */
#if WITH_MAILDROP_MBOX
#define JOURNAL_SUFFIX	".journal"

/* As the user: the record named `name` in statefd. */
static int
recover_one(int statefd, const char *name)
{
	const struct maildrop_ops *ops = maildrop_format("mbox", 4);
	char	 path[PATH_MAX], key[STATEDIR_KEY_MAX];
	size_t	 klen = strlen(name) - strlen(JOURNAL_SUFFIX);
	int	 fd;

	if (ops == NULL || ops->recover == NULL ||
	    mbox_journal_path(statefd, name, path, sizeof(path)) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 || statedir_key(fd, key) == -1 ||
	    strlen(key) != klen || memcmp(key, name, klen) != 0) {
		log_warnx("recovery record %s: %s is no longer the file it "
		    "was made for; left for the administrator", name, path);
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	(void)close(fd);
	if (ops->recover(statefd, path) != MD_OK)
		return -1;
	log_info("recovery record %s for %s: done", name, path);
	return 0;
}

/* A child per record, as the directory's owner. */
static int
recover_as(int statefd, uid_t uid, gid_t gid, const char *name)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		if (geteuid() == 0 && priv_drop(uid, gid, NULL) == -1)
			_exit(1);
		_exit(recover_one(statefd, name) == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
is_journal(const char *name)
{
	size_t	 n = strlen(name), s = strlen(JOURNAL_SUFFIX);

	return n > s && strcmp(name + n - s, JOURNAL_SUFFIX) == 0;
}

/* Every record in one user's directory; the number that failed. */
static int
recover_dir(const char *base, uid_t uid, gid_t gid)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, dfd, bad = 0;

	if ((fd = statedir_open(base, uid, gid)) == -1)
		return 1;
	if ((dfd = dup(fd)) == -1 || (d = fdopendir(dfd)) == NULL) {
		log_warn("state-dir %s/%lu", base, (unsigned long)uid);
		if (dfd != -1)
			(void)close(dfd);
		(void)close(fd);
		return 1;
	}
	while ((de = readdir(d)) != NULL)
		if (is_journal(de->d_name) &&
		    recover_as(fd, uid, gid, de->d_name) == -1)
			bad++;
	(void)closedir(d);
	(void)close(fd);
	return bad;
}


int
recover_all(const struct config *cfg)
{
	struct dirent	*de;
	struct stat	 st;
	const char	*errstr;
	char		 base[PATH_MAX];
	DIR		*d;
	uid_t		 uid;
	int		 bad = 0;

	if (statedir_base(cfg->state_dir, base, sizeof(base)) == -1)
		return 1;
	if (geteuid() != 0)
		return recover_dir(base, geteuid(), getegid()) == 0 ? 0 : 1;
	if ((d = opendir(base)) == NULL) {
		if (errno == ENOENT)
			return 0;	/* no session ever ran */
		log_warn("state-dir %s", base);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		uid = (uid_t)strtonum(de->d_name, 1, UINT_MAX - 1, &errstr);
		if (errstr != NULL || fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			log_warnx("state-dir %s: %s is not ours, skipped",
			    base, de->d_name);
			continue;
		}
		bad += recover_dir(base, uid, st.st_gid);
	}
	(void)closedir(d);
	return bad == 0 ? 0 : 1;
}
#else
int
recover_all(const struct config *cfg)
{
	(void)cfg;
	return 0;
}
#endif
