#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "xio.h"

ssize_t
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t
read_full(int fd, void *buf, size_t len)
{
	char	*p = buf;
	size_t	 done = 0;

	while (done < len) {
		ssize_t n = read(fd, p + done, len - done);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t
pread_full(int fd, void *buf, size_t len, off_t off)
{
	char	*p = buf;
	size_t	 done = 0;

	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t
pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char	*p = buf;
	size_t		 done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, p + done, len - done, off + (off_t)done);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t
write_all_timeout(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char	*p = buf;
	size_t		 done = 0;
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n >= 0) {
			done += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		n = poll(&pfd, 1, timeout_ms);
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (n == -1 && errno != EINTR)
			return -1;
	}
	return (ssize_t)done;
}
