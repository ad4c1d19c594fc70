/*
 * The calls that change files during an mbox commit or recovery.  They
 * are plain system calls, but pass one counter, so that the unit test
 * can fail the n-th of them (with EIO, ENOSPC, EFBIG...) or kill the
 * process there, and then check that no kept message was lost.  The
 * counter costs one comparison per call; it is off unless a test sets
 * it through mbox_io_fault().
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "mbox.h"
#include "xio.h"

static unsigned long	 io_calls;
static unsigned long	 io_fault_at;
static int		 io_fault_errno;

void
mbox_io_fault(unsigned long n, int err)
{
	io_calls = 0;
	io_fault_at = n;
	io_fault_errno = err;
}

unsigned long
mbox_io_calls(void)
{
	return io_calls;
}

/*
 * Counts a call; returns 1 when this one is to fail (errno set).  In
 * kill mode the process dies here.
 */
static int
io_fault(void)
{
	io_calls++;
	if (io_fault_at == 0 || io_calls != io_fault_at)
		return 0;
	if (io_fault_errno == 0) {
		(void)raise(SIGKILL);
		_exit(137);
	}
	errno = io_fault_errno;
	return 1;
}

/* pwrite_all(), through the fault counter. */
int
mbox_io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	io_calls++;
	if (io_fault_at != 0 && io_calls == io_fault_at) {
		/* Half the data reaches the file, as with a full disk. */
		(void)pwrite_all(fd, buf, len / 2, off);
		if (io_fault_errno == 0) {
			(void)raise(SIGKILL);
			_exit(137);
		}
		errno = io_fault_errno;
		return -1;
	}
	return pwrite_all(fd, buf, len, off) == -1 ? -1 : 0;
}

int
mbox_io_fsync(int fd)
{
	if (io_fault())
		return -1;
	return fsync(fd);
}

int
mbox_io_ftruncate(int fd, off_t len)
{
	if (io_fault())
		return -1;
	return ftruncate(fd, len);
}

int
mbox_io_renameat(int ofd, const char *from, int nfd, const char *to)
{
	if (io_fault())
		return -1;
	return renameat(ofd, from, nfd, to);
}

int
mbox_io_unlinkat(int dfd, const char *name, int flags)
{
	if (io_fault())
		return -1;
	return unlinkat(dfd, name, flags);
}

int
mbox_io_openat(int dfd, const char *name, int flags, mode_t mode)
{
	if (io_fault())
		return -1;
	return openat(dfd, name, flags, mode);
}
