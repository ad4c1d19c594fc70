/* The command-line parser and the strict number parser (session/command.c). */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "command.h"

static enum parse_result
parse(const char *text, struct command_line *cl, char *buf, size_t len)
{
	enum parse_result r;

	strlcpy(buf, text, len);
	if ((r = command_parse(buf, cl)) != PARSE_OK)
		return r;
	return command_split(cl);
}

static void
test_verbs(void)
{
	struct command_line cl;
	char	 buf[256];

	CHECK(parse("stat", &cl, buf, sizeof(buf)) == PARSE_OK);
	CHECK(strcmp(cl.verb, "STAT") == 0 && cl.nargs == 0);
	CHECK(parse("ReTr 12", &cl, buf, sizeof(buf)) == PARSE_OK);
	CHECK(strcmp(cl.verb, "RETR") == 0 && cl.nargs == 1 &&
	    strcmp(cl.args[0], "12") == 0);
	CHECK(parse("TOP 1 10", &cl, buf, sizeof(buf)) == PARSE_OK);
	CHECK(cl.nargs == 2 && strcmp(cl.args[1], "10") == 0);
	CHECK(parse("", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse("   ", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse(":", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse("%n%s", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse("ST", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse("STATS", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse("\xc3\xa9tat", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse("ST4T", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
	CHECK(parse(" STAT", &cl, buf, sizeof(buf)) == PARSE_UNKNOWN);
}

static void
test_spacing(void)
{
	struct command_line cl;
	char	 buf[256];

	CHECK(parse("STAT ", &cl, buf, sizeof(buf)) == PARSE_SYNTAX);
	CHECK(parse("RETR  1", &cl, buf, sizeof(buf)) == PARSE_SYNTAX);
	CHECK(parse("RETR 1 ", &cl, buf, sizeof(buf)) == PARSE_SYNTAX);
	CHECK(parse("TOP 1  2", &cl, buf, sizeof(buf)) == PARSE_SYNTAX);
	CHECK(parse("TOP 1 2 3", &cl, buf, sizeof(buf)) == PARSE_SYNTAX);
	/* PASS takes the rest of the line, spaces and all. */
	strlcpy(buf, "PASS  two  spaces ", sizeof(buf));
	CHECK(command_parse(buf, &cl) == PARSE_OK);
	CHECK(strcmp(cl.rest, " two  spaces ") == 0);
	CHECK(command_args_fit(ARGS_REST, &cl));
	strlcpy(buf, "PASS", sizeof(buf));
	CHECK(command_parse(buf, &cl) == PARSE_OK);
	CHECK(!command_args_fit(ARGS_REST, &cl));
}

static void
test_rules(void)
{
	struct command_line cl;
	char	 buf[256];

	parse("LIST", &cl, buf, sizeof(buf));
	CHECK(command_args_fit(ARGS_OPT1, &cl));
	CHECK(command_args_fit(ARGS_NONE, &cl));
	CHECK(!command_args_fit(ARGS_ONE, &cl));
	parse("LIST 1", &cl, buf, sizeof(buf));
	CHECK(command_args_fit(ARGS_OPT1, &cl));
	CHECK(!command_args_fit(ARGS_NONE, &cl));
	CHECK(!command_args_fit(ARGS_TWO, &cl));
	CHECK(command_args_fit(ARGS_ONE_OPT2, &cl));
	parse("AUTH PLAIN xyz", &cl, buf, sizeof(buf));
	CHECK(command_args_fit(ARGS_ONE_OPT2, &cl));
	CHECK(!command_args_fit(ARGS_ONE, &cl));
}

static void
test_numbers(void)
{
	static const char *const bad[] = {
		"", "0", "-1", "+1", "01", "1x", "1abc", " 1", "1 ", "0x1",
		"4294967296", "4294967297", "18446744073709551616",
		"99999999999999999999", "1e3", "1.0",
	};
	uint64_t n;
	size_t	 i;

	CHECK(command_number("1", 1, 4294967295ULL, &n) == 0 && n == 1);
	CHECK(command_number("4294967295", 1, 4294967295ULL, &n) == 0 &&
	    n == 4294967295ULL);
	CHECK(command_number("0", 0, 10, &n) == 0 && n == 0);
	CHECK(command_number("10", 0, 10, &n) == 0 && n == 10);
	CHECK(command_number("11", 0, 10, &n) == -1);
	CHECK(command_number("18446744073709551615", 0, UINT64_MAX, &n) == 0 &&
	    n == UINT64_MAX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(command_number(bad[i], 1, 4294967295ULL, &n) == -1);
}

int
main(void)
{
	test_verbs();
	test_spacing();
	test_rules();
	test_numbers();
	CHECK_DONE();
}
