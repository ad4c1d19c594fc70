/*
 * pop3d's own per-maildrop state (DESIGN.md "The state directory"):
 * STATE/UID, one 0700 directory per uid, made and opened by root before
 * the privilege drop and used by the session through the descriptor.
 * Inside it, every file is named after what it is about: the maildrop's
 * identity (file handle and inode: the session lock, the mbox recovery
 * record) or the login name (the LOGIN-DELAY record).
 */
#ifndef POP3D_STATEDIR_H
#define POP3D_STATEDIR_H

#include <sys/types.h>

#include <stddef.h>

/* The default state-dir when pop3d runs as root. */
#define STATEDIR_DEFAULT	"/var/lib/pop3d"
/* Rootless (started as the mail user): below the user's home. */
#define STATEDIR_ROOTLESS	".local/state/pop3d"

/* "ID-INO" in hex: at most 16 + 1 + 16 octets. */
#define STATEDIR_KEY_MAX	40

/*
 * Opens BASE/UID, making BASE (0711, ours) and BASE/UID (0700, uid:gid)
 * when missing.  Every component of BASE is opened without following
 * symbolic links and must be a directory owned by root or by us, not
 * writable by others unless sticky; BASE must be writable only by its
 * owner, BASE/UID must be exactly 0700 and owned by uid.  Returns an
 * O_DIRECTORY descriptor, or -1 after logging why.
 */
int	statedir_open(const char *base, uid_t uid, gid_t gid);

/* The state-dir in force: the key's value, else the mode's default. */
int	statedir_base(const char *configured, char *out, size_t outlen);

/*
 * The key of the maildrop open on fd (an mbox file, a maildir
 * directory): a digest of its file handle (the same on every NFS client
 * of one export, and after a remount) and its inode, so that every host
 * and every network namespace names it alike.  0, or -1 with errno.
 */
int	statedir_key(int fd, char out[STATEDIR_KEY_MAX]);

/*
 * Opens the state file KEY SUFFIX in dfd with `flags` (O_CREAT makes it
 * 0600): never through a symlink, and only a regular file of ours with
 * one link.  Returns the descriptor, or -1 with errno (ENOENT: there is
 * none; EPERM: one that is not ours, which the caller must refuse).
 */
int	statedir_file(int dfd, const char *key, const char *suffix, int flags);

/*
 * The session lock of a maildrop (DESIGN.md "The session lock"): an
 * open-file-description write lock on KEY.lock.  Returns the descriptor
 * that holds it (close it to release), STATEDIR_BUSY when another
 * session holds it, or -1 after logging why (the caller fails closed).
 */
#define STATEDIR_BUSY	(-2)
int	statedir_lock(int dfd, const char *key);

#endif
