/*
 * The command-line parser and the strict number parser on arbitrary bytes:
 * no crash, and every number accepted is canonical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct command_line cl;
	char	*line;
	uint64_t n;
	size_t	 i;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (command_parse(line, &cl) == PARSE_OK &&
	    command_split(&cl) == PARSE_OK) {
		for (i = 0; i < cl.nargs; i++)
			if (command_number(cl.args[i], 0, UINT64_MAX, &n) == 0 &&
			    (cl.args[i][0] == '0' ? strlen(cl.args[i]) != 1 :
			    cl.args[i][0] < '1' || cl.args[i][0] > '9'))
				abort();
	}
	free(line);
	return 0;
}
