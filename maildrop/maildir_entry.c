/*
 * The entries of a maildir's new/ and cur/, for maildir.c and
 * maildir_file.c alike (maildir_priv.h): which entries are messages, the
 * arena their names are kept in, how unique parts compare, and how a
 * name is written into a log line.  It depends on nothing of the two
 * files that use it.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maildir_priv.h"

char *
maildir_log_name(const char *name, char *buf, size_t len)
{
	return log_escape(name, strlen(name), buf, len);
}

int
maildir_unique_cmp(const char *a, const char *b)
{
	size_t	 la = maildir_unique_len(a), lb = maildir_unique_len(b);
	int	 c = memcmp(a, b, la < lb ? la : lb);

	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

int64_t
maildir_arena_add(char **arena, size_t *used, size_t *cap, const char *name)
{
	size_t	 len = strlen(name) + 1, ncap;
	char	*p;
	int64_t	 off;

	/* Offsets are 32 bits; 1,000,000 names of 255 octets stay far below. */
	if (*used + len > UINT32_MAX)
		return -1;
	if (*used + len > *cap) {
		ncap = *cap ? *cap * 2 : 4096;
		while (ncap < *used + len)
			ncap *= 2;
		if ((p = realloc(*arena, ncap)) == NULL)
			return -1;
		*arena = p;
		*cap = ncap;
	}
	memcpy(*arena + *used, name, len);
	off = (int64_t)*used;
	*used += len;
	return off;
}

int
maildir_entry_ok(int dfd, const char *name, unsigned char d_type,
    struct stat *st, int *have_st)
{
	*have_st = 0;
	/* ".", "..", and dot files that some tools keep in maildirs. */
	if (name[0] == '.')
		return 0;
	if (d_type == DT_UNKNOWN) {
		/* Not every file system fills d_type (XFS v4, some NFS). */
		if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
			return 0;
		*have_st = 1;
		return S_ISREG(st->st_mode);
	}
	/*
	 * Symlinks, FIFOs, devices, sockets, directories are never served
	 * (DESIGN.md "Mail formats and locking").
	 */
	return d_type == DT_REG;
}
