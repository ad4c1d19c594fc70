/*
 * The only loops around read(2) and write(2): they handle short
 * counts and EINTR.  Both return the byte count done, or -1 with errno.
 */
#ifndef POP3D_XIO_H
#define POP3D_XIO_H

#include <sys/types.h>

/* Writes all of buf; -1 on error. */
ssize_t	write_all(int fd, const void *buf, size_t len);
/* Reads until len bytes or EOF; returns what was read (< len at EOF). */
ssize_t	read_full(int fd, void *buf, size_t len);
/* pread until len bytes or EOF. */
ssize_t	pread_full(int fd, void *buf, size_t len, off_t off);
/* pwrite all of buf at off; -1 on error (EIO for a write of 0). */
ssize_t	pwrite_all(int fd, const void *buf, size_t len, off_t off);


/*
 * Writes all of buf to a non-blocking fd, waiting at most timeout_ms for
 * each bit of progress (a client that stops reading is dropped, never
 * buffered for).  -1 with errno ETIMEDOUT on timeout.
 */
ssize_t	write_all_timeout(int fd, const void *buf, size_t len, int timeout_ms);

#endif
