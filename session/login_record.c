#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "login_record.h"
#include "statedir.h"

/*
 * The record is keyed by the login name: LOGIN-DELAY is about a user's
 * logins, and virtual users that share a uid share the directory.  An
 * empty file holds no login yet; one byte marks it as holding a time,
 * which is its mtime.
 */
int
login_record_check(const struct config *cfg, int statefd, const char *user)
{
	struct stat	 st;
	time_t		 now = time(NULL);
	int		 fd, r = 0;

	if (cfg->login_delay == 0)
		return 0;
	if ((fd = statedir_file(statefd, user, ".login", O_RDONLY)) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("login-delay record for %s", user);
		return -1;
	}
	if (fstat(fd, &st) == -1)
		r = -1;
	else if (st.st_size > 0 && now >= st.st_mtime &&
	    now - st.st_mtime < (time_t)cfg->login_delay)
		r = 1;
	(void)close(fd);
	return r;
}

void
login_record_update(const struct config *cfg, int statefd, const char *user)
{
	struct stat	 st;
	int		 fd;

	if (cfg->login_delay == 0)
		return;
	fd = statedir_file(statefd, user, ".login", O_RDWR | O_CREAT);
	if (fd == -1 || fstat(fd, &st) == -1 ||
	    (st.st_size == 0 && write(fd, "\n", 1) != 1) ||
	    futimens(fd, NULL) == -1)
		log_warn("login-delay record for %s", user);
	if (fd != -1)
		(void)close(fd);
}
