/*
 * libFuzzer target for maildrop_expand().  Input: TEMPLATE NUL USER NUL HOME
 * NUL PATHLEN-byte.  Users that name_valid() refuses never reach the
 * expansion in pop3d, so they are skipped here too.  Checks: success
 * means a NUL-terminated absolute path within pathlen, with no "." or
 * ".." component, and a format; failure means a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build_config.h"
#include "maildrop.h"
#include "names.h"

#if WITH_MAILDROP_MBOX
const struct maildrop_ops mbox_ops = { .name = "mbox" };
#endif
#if WITH_MAILDROP_MAILDIR
const struct maildrop_ops maildir_ops = { .name = "maildir" };
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct maildrop_ops *ops = NULL;
	const char	*spec, *user, *home, *err = NULL;
	char		*copy, *p, *path;
	size_t		 pathlen, n, i;

	if (size < 1 || size > 4096)
		return 0;
	/* Own copy, NUL-terminated, so that the three strings are in it. */
	copy = calloc(1, size + 3);
	memcpy(copy, data, size);
	spec = copy;
	user = spec + strlen(spec) + 1;
	home = user + strlen(user) + 1;
	p = (char *)home + strlen(home) + 1;
	pathlen = p < copy + size ? (unsigned char)*p + 1 : 4096;
	if (!name_valid(user, strlen(user))) {
		free(copy);
		return 0;
	}
	path = malloc(pathlen);
	if (maildrop_expand(spec, user, *home ? home : NULL, &ops, path,
	    pathlen, &err) == 0) {
		n = strnlen(path, pathlen);
		if (n >= pathlen || path[0] != '/' || ops == NULL)
			abort();
		for (i = 0; i < n; i++) {
			if (path[i] != '/')
				continue;
			if (path[i + 1] == '.' && (path[i + 2] == '/' ||
			    path[i + 2] == '\0'))
				abort();
			if (path[i + 1] == '.' && path[i + 2] == '.' &&
			    (path[i + 3] == '/' || path[i + 3] == '\0'))
				abort();
		}
		if (maildrop_format(spec, (size_t)(strchr(spec, ':') -
		    spec)) != ops)
			abort();
	} else if (err == NULL || *err == '\0')
		abort();
	free(path);
	free(copy);
	return 0;
}
