/*
 * libFuzzer target for the users file: the input is a whole file, split
 * by the real reader (through a memfd) and every line parsed.  Checks
 * what the parser promises: entries point inside the line, numbers are
 * in range, a malformed line has a reason.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "names.h"
#include "users_file.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_check_entry(const char *line, size_t len, enum users_line kind,
    const struct users_entry *e)
{
	if (kind == USERS_LINE_BAD && e->error == NULL)
		abort();
	if (kind == USERS_LINE_SKIP)
		return;
	if (e->name != NULL && (e->name < line || e->name > line + len ||
	    !name_valid(e->name, strlen(e->name))))
		abort();
	if (kind != USERS_LINE_ENTRY)
		return;
	if (e->name == NULL || e->home == NULL)
		abort();
	if (e->uid < -1 || e->uid > 4294967294LL || e->gid < -1 ||
	    e->gid > 4294967294LL)
		abort();
	if (e->pw != USERS_PW_DISABLED && (e->secret == NULL ||
	    e->secret[0] == '\0'))
		abort();
	if (e->home[0] != '\0' && e->home[0] != '/')
		abort();
	if (e->maildrop != NULL && strncmp(e->maildrop, "mbox:", 5) != 0 &&
	    strncmp(e->maildrop, "maildir:", 8) != 0)
		abort();
	if ((e->notes & USERS_NOTE_UNKNOWN) && e->unknown == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 fd = -1;
	struct users_reader	 r;
	struct users_entry	 e;
	enum users_line		 kind;
	char			 path[64], *line;
	size_t			 len;

	if (fd == -1 && (fd = memfd_create("users", 0)) == -1)
		abort();
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (users_file_open(&r, path) == -1)
		abort();
	while (users_file_next(&r, &line, &len) == 1) {
		if (len > USERS_LINE_MAX + 1 || line[len] != '\0')
			abort();
		kind = users_file_parse(line, len, &e);
		fuzz_check_entry(line, len, kind, &e);
	}
	users_file_close(&r);
	return 0;
}
