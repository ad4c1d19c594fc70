/*
 * The state directory (statedir.h; DESIGN.md "The state directory").
 *
 * statedir_open() runs as root before the privilege drop (or as the user
 * in rootless mode).  It walks BASE from "/" one component at a time with
 * O_NOFOLLOW, so no symlink anywhere on the way is followed, and checks
 * each directory's owner and mode before going below it: a directory
 * that someone else may write could have its entries swapped under us.
 * The per-uid directory is made by root and handed to the user, 0700:
 * another uid can neither read nor create anything in it, which is what
 * makes the session lock impossible to squat.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <errno.h>
#include <fcntl.h>
#include <md5.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "statedir.h"

#define DIR_FLAGS	(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int
statedir_base(const char *configured, char *out, size_t outlen)
{
	struct passwd	*pw;
	int		 n;

	if (configured != NULL)
		n = snprintf(out, outlen, "%s", configured);
	else if (geteuid() == 0)
		n = snprintf(out, outlen, "%s", STATEDIR_DEFAULT);
	else if ((pw = getpwuid(geteuid())) != NULL && pw->pw_dir != NULL &&
	    pw->pw_dir[0] == '/')
		n = snprintf(out, outlen, "%s/%s", pw->pw_dir,
		    STATEDIR_ROOTLESS);
	else {
		log_warnx("state-dir: no home directory for uid %lu; set "
		    "state-dir", (unsigned long)geteuid());
		return -1;
	}
	if (n < 0 || (size_t)n >= outlen) {
		log_warnx("state-dir: path too long");
		return -1;
	}
	return 0;
}

/*
 * A directory on the way to BASE (last = 0) or BASE itself: ours or
 * root's; writable by others only when sticky on the way, never at BASE.
 */
static int
statedir_check_step(int fd, const char *path, int last)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		log_warn("state-dir %s: fstat", path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_warnx("state-dir %s: owned by uid %lu, refused", path,
		    (unsigned long)st.st_uid);
		return -1;
	}
	if ((st.st_mode & 022) != 0 && (last || !(st.st_mode & S_ISVTX))) {
		log_warnx("state-dir %s: mode %04o lets others write it, "
		    "refused", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* Opens (making it when missing) one component below dfd. */
static int
statedir_step(int dfd, const char *name, const char *path, mode_t mode)
{
	int	 fd;

	fd = openat(dfd, name, DIR_FLAGS);
	if (fd == -1 && errno == ENOENT) {
		if (mkdirat(dfd, name, mode) == 0) {
			/*
			 * Ours, just made: our umask is 077, give it its real
			 * mode.  Never chmod what someone else made first.
			 */
			if ((fd = openat(dfd, name, DIR_FLAGS)) != -1 &&
			    fchmod(fd, mode) == -1) {
				log_warn("state-dir %s: chmod", path);
				(void)close(fd);
				return -1;
			}
		} else if (errno == EEXIST)
			fd = openat(dfd, name, DIR_FLAGS);
		else {
			log_warn("state-dir %s: mkdir", path);
			return -1;
		}
	}
	if (fd == -1) {
		if (errno == ELOOP || errno == ENOTDIR)
			log_warnx("state-dir %s: not a directory (or a "
			    "symbolic link), refused", path);
		else
			log_warn("state-dir %s", path);
	}
	return fd;
}

/* Opens BASE, component by component from "/". */
static int
statedir_open_base(const char *base)
{
	char	 path[4096], *p, *slash;
	int	 fd, next, last;
	mode_t	 mode;

	if (base[0] != '/' || strlcpy(path, base, sizeof(path)) >=
	    sizeof(path)) {
		log_warnx("state-dir %s: must be an absolute path", base);
		return -1;
	}
	if ((fd = open("/", DIR_FLAGS)) == -1) {
		log_warn("state-dir: /");
		return -1;
	}
	for (p = path + 1; fd != -1 && *p != '\0'; p = slash + 1) {
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		last = slash == NULL || slash[1] == '\0';
		if (strcmp(p, "..") == 0) {
			log_warnx("state-dir %s: '..' refused", base);
			next = -1;
		} else if (*p == '\0' || strcmp(p, ".") == 0)
			next = dup(fd);
		else {
			/* BASE itself: searchable, as root makes it. */
			mode = !last ? 0755 : geteuid() == 0 ? 0711 : 0700;
			next = statedir_step(fd, p, base, mode);
		}
		if (next != -1 && statedir_check_step(next, base, last) == -1) {
			(void)close(next);
			next = -1;
		}
		(void)close(fd);
		fd = next;
		if (slash == NULL)
			break;
		*slash = '/';
	}
	return fd;
}

int
statedir_open(const char *base, uid_t uid, gid_t gid)
{
	struct stat	 st;
	char		 name[32];
	int		 bfd, fd;

	if ((bfd = statedir_open_base(base)) == -1)
		return -1;
	(void)snprintf(name, sizeof(name), "%lu", (unsigned long)uid);
	fd = openat(bfd, name, DIR_FLAGS);
	if (fd == -1 && errno == ENOENT) {
		/*
		 * Only root (or we, rootless) can write BASE, so nobody can
		 * slip anything in; a session of the same uid starting at
		 * the same moment may make it first (EEXIST), and its
		 * owner and mode are checked below like any other's.
		 */
		if (mkdirat(bfd, name, 0700) == 0) {
			if (geteuid() == 0 && fchownat(bfd, name, uid, gid,
			    AT_SYMLINK_NOFOLLOW) == -1)
				log_warn("state-dir %s/%s: chown", base, name);
		} else if (errno != EEXIST)
			log_warn("state-dir %s/%s: mkdir", base, name);
		fd = openat(bfd, name, DIR_FLAGS);
	}
	(void)close(bfd);
	if (fd == -1) {
		log_warn("state-dir %s/%s: refused", base, name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || st.st_uid != uid ||
	    (st.st_mode & 07777) != 0700) {
		log_warnx("state-dir %s/%s: must be a directory of uid %lu "
		    "with mode 0700, refused", base, name, (unsigned long)uid);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * The file handle (name_to_handle_at(2)) identifies a file for good: on
 * NFS it is the server's handle, the same on every client and across
 * remounts, where st_dev is a per-mount number and statfs(2) gives no
 * fsid; locally it holds the inode and its generation, so a reused inode
 * number is another key.  A file system without handles falls back to
 * its fsid or device number, which is stable on a local disk.
 */
int
statedir_key(int fd, char out[STATEDIR_KEY_MAX])
{
	union {
		struct file_handle fh;
		unsigned char	 buf[sizeof(struct file_handle) +
				    MAX_HANDLE_SZ];
	} h;
	struct statfs	 sf;
	struct stat	 st;
	MD5_CTX		 ctx;
	unsigned char	 md[MD5_DIGEST_LENGTH];
	unsigned long long id = 0;
	unsigned	 w[2];
	int		 mnt, i;

	if (fstat(fd, &st) == -1)
		return -1;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) == 0) {
		MD5Init(&ctx);
		MD5Update(&ctx, (const unsigned char *)&h.fh.handle_type,
		    sizeof(h.fh.handle_type));
		MD5Update(&ctx, h.fh.f_handle, h.fh.handle_bytes);
		MD5Final(md, &ctx);
		for (i = 0; i < 8; i++)
			id = id << 8 | md[i];
	} else if (fstatfs(fd, &sf) == 0) {
		memcpy(w, &sf.f_fsid, sizeof(w));
		id = (unsigned long long)w[0] << 32 | w[1];
		if (id == 0)
			id = (unsigned long long)st.st_dev;
	} else
		return -1;
	(void)snprintf(out, STATEDIR_KEY_MAX, "%016llx-%llx", id,
	    (unsigned long long)st.st_ino);
	return 0;
}

int
statedir_file(int dfd, const char *key, const char *suffix, int flags)
{
	struct stat	 st;
	char		 name[256];
	int		 fd, n;

	n = snprintf(name, sizeof(name), "%s%s", key, suffix);
	if (n < 0 || (size_t)n >= sizeof(name) || strchr(name, '/') != NULL) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY, 0600);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_nlink != 1) {
		(void)close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
statedir_lock(int dfd, const char *key)
{
	struct flock	 fl;
	int		 fd;

	if ((fd = statedir_file(dfd, key, ".lock", O_RDWR | O_CREAT)) == -1) {
		log_warn("session lock %s.lock", key);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	/*
	 * An open-file-description lock: it belongs to this descriptor, not
	 * to the process, so closing another descriptor of the file keeps
	 * it, and it goes when the process dies, however it dies.  Being a
	 * POSIX-family lock, NFS passes it to the server (NLM or NFSv4), so
	 * it excludes sessions on other hosts sharing the state-dir.
	 */
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return fd;
	if (errno == EAGAIN || errno == EACCES) {
		(void)close(fd);
		return STATEDIR_BUSY;
	}
	log_warn("session lock %s.lock", key);
	(void)close(fd);
	return -1;
}
