#include <string.h>

#include "names.h"

static int
name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
	    c == '=' || c == '-';
}

static int
name_part_ok(const char *p, size_t len)
{
	size_t	 i;
	unsigned char first;

	if (len == 0)
		return 0;
	first = (unsigned char)p[0];
	/* A leading '.' or '-' could become a hidden file or an option. */
	if (first == '.' || first == '-' || first == '+' || first == '=')
		return 0;
	for (i = 0; i < len; i++) {
		if (!name_char_ok((unsigned char)p[i]))
			return 0;
		if (p[i] == '.' && i + 1 < len && p[i + 1] == '.')
			return 0;
	}
	return 1;
}

int
name_valid(const char *name, size_t len)
{
	const char	*at;

	if (len == 0 || len > NAME_MAX_LEN || memchr(name, '\0', len) != NULL)
		return 0;
	at = memchr(name, '@', len);
	if (at == NULL)
		return name_part_ok(name, len);
	return name_part_ok(name, (size_t)(at - name)) &&
	    name_part_ok(at + 1, len - (size_t)(at - name) - 1);
}
