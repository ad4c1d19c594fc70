/*
 * The configuration parser on arbitrary bytes: each input is written to a
 * file and loaded; no crash, no leak, and the result is always usable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 path[] = "fuzz-config-XXXXXX";
	struct config	 c;
	int		 fd;
	char		 tmpl[sizeof(path)];

	memcpy(tmpl, path, sizeof(path));
	if ((fd = mkstemp(tmpl)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(tmpl);
		return 0;
	}
	close(fd);
	config_defaults(&c);
	(void)config_load(&c, tmpl, 1, NULL, 0);
	if (c.nauth == 0 || c.nauth > CONFIG_MAX_AUTH || c.maildrop == NULL ||
	    c.greeting == NULL || c.auth_file == NULL)
		abort();
	config_free(&c);
	unlink(tmpl);
	return 0;
}
