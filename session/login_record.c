#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "login_record.h"

/*
 * Where the record lives: inside a maildir (a dot file, which no maildir
 * reader takes for mail); beside an mbox as PATH.pop3d-login when the
 * user may create files there; else in the home directory (Debian's
 * /var/mail is 2775 root:mail, so users cannot create files in it).
 */
static int
login_record_open(const struct maildrop_ops *ops, const char *path,
    const char *home)
{
	char	 rec[PATH_MAX];
	int	 fd, n;

	if (strcmp(ops->name, "maildir") == 0)
		n = snprintf(rec, sizeof(rec), "%s/.pop3d-login", path);
	else
		n = snprintf(rec, sizeof(rec), "%s.pop3d-login", path);
	if (n < 0 || (size_t)n >= sizeof(rec))
		return -1;
	fd = open(rec, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0600);
	if (fd >= 0 || home == NULL || home[0] != '/')
		return fd;
	n = snprintf(rec, sizeof(rec), "%s/.pop3d-login", home);
	if (n < 0 || (size_t)n >= sizeof(rec))
		return -1;
	return open(rec, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0600);
}

int
login_record_check(const struct config *cfg, const struct maildrop_ops *ops,
    const char *path, const char *home)
{
	struct stat	 st;
	time_t		 now = time(NULL);
	int		 fd, fresh;

	if (cfg->login_delay == 0)
		return 0;
	if ((fd = login_record_open(ops, path, home)) == -1) {
		log_warn("login-delay record for %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		log_warnx("login-delay record for %s: not a file of ours", path);
		close(fd);
		return -1;
	}
	/* A new, empty file has no login recorded in it yet. */
	fresh = st.st_size == 0;
	if (!fresh && now >= st.st_mtime &&
	    now - st.st_mtime < (time_t)cfg->login_delay) {
		close(fd);
		return 1;
	}
	/* One byte marks the file as holding a time; the mtime is the time. */
	if ((fresh && write(fd, "\n", 1) != 1) || futimens(fd, NULL) == -1)
		log_warn("login-delay record for %s", path);
	close(fd);
	return 0;
}
