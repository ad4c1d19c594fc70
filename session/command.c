#include <ctype.h>
#include <string.h>

#include "command.h"

enum parse_result
command_parse(char *line, struct command_line *cl)
{
	size_t	 n, i;

	memset(cl, 0, sizeof(*cl));
	n = strcspn(line, " ");
	/* RFC 1939 §3: keywords are three or four characters long. */
	if (n < 3 || n > 4)
		return PARSE_UNKNOWN;
	for (i = 0; i < n; i++) {
		if (!isalpha((unsigned char)line[i]))
			return PARSE_UNKNOWN;
		cl->verb[i] = (char)toupper((unsigned char)line[i]);
	}
	cl->verb[n] = '\0';
	cl->rest = line[n] == '\0' ? line + n : line + n + 1;
	cl->has_space = line[n] == ' ';
	return PARSE_OK;
}

enum parse_result
command_split(struct command_line *cl)
{
	char	*p = cl->rest;
	size_t	 n;

	if (!cl->has_space)
		return PARSE_OK;
	for (;;) {
		n = strcspn(p, " ");
		if (n == 0)
			return PARSE_SYNTAX;	/* two spaces, or trailing */
		if (cl->nargs == CMD_MAX_ARGS)
			return PARSE_SYNTAX;	/* more words than any verb takes */
		cl->args[cl->nargs++] = p;
		if (p[n] == '\0')
			return PARSE_OK;
		p[n] = '\0';
		p += n + 1;
	}
}

int
command_args_fit(enum arg_rule rule, const struct command_line *cl)
{
	switch (rule) {
	case ARGS_NONE:
		return cl->nargs == 0;
	case ARGS_OPT1:
		return cl->nargs <= 1;
	case ARGS_ONE:
		return cl->nargs == 1;
	case ARGS_TWO:
		return cl->nargs == 2;
	case ARGS_ONE_OPT2:
		return cl->nargs == 1 || cl->nargs == 2;
	case ARGS_REST:
		return cl->has_space && *cl->rest != '\0';
	}
	return 0;
}

int
command_number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t	 i, len = strlen(s);

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
