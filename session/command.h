/*
 * Command lines (RFC 1939 §3): a keyword of 3-4 characters, case-
 * insensitive, then arguments each after exactly one space.  The
 * dispatcher checks a command's argument rule once, from its table row;
 * handlers never re-check it.
 */
#ifndef POP3D_COMMAND_H
#define POP3D_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#define CMD_MAX_ARGS	2

enum arg_rule {
	ARGS_NONE,	/* STAT */
	ARGS_OPT1,	/* LIST [n] */
	ARGS_ONE,	/* RETR n */
	ARGS_TWO,	/* TOP n k */
	ARGS_ONE_OPT2,	/* AUTH mech [initial-response] */
	ARGS_REST,	/* PASS: the rest of the line, spaces and all */
};

struct command_line {
	char		 verb[5];	/* upper-cased, NUL-terminated */
	size_t		 nargs;
	char		*args[CMD_MAX_ARGS];
	char		*rest;		/* everything after "VERB " */
	int		 has_space;	/* a space followed the verb */
};

enum parse_result {
	PARSE_OK,
	PARSE_UNKNOWN,		/* not a keyword we could know */
	PARSE_SYNTAX,		/* empty argument, stray spaces */
};

/*
 * Finds the verb and the rest of the line.  Does not know which verbs
 * exist; the caller looks the verb up in its table.
 */
enum parse_result command_parse(char *line, struct command_line *);
/* Splits rest into args (spaces become NULs); not for ARGS_REST verbs. */
enum parse_result command_split(struct command_line *);

/* 1 if nargs fits the rule. */
int	command_args_fit(enum arg_rule, const struct command_line *);

/*
 * A canonical decimal: no sign, no space, no leading zero (except "0"
 * itself), at most max.  Returns 0 and sets *out, else -1.
 */
int	command_number(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
