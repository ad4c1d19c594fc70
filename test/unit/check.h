/*
 * A tiny assertion helper shared by the unit tests.  Each failure is
 * reported on stderr with its file, line and function, and counted;
 * CHECK_DONE() prints the totals and makes main() return 1 on any failure.
 * A forked child has its own copy of the counters: what it checks does not
 * reach the parent, so children report through their exit status.
 */
#ifndef POP3D_CHECK_H
#define POP3D_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_count;		/* CHECK* evaluated */
static int check_failures;	/* failed, including CHECK_FAIL() */

#define CHECK(cond) do {						\
	check_count++;							\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s: CHECK failed: %s\n",	\
		    __FILE__, __LINE__, __func__, #cond);		\
		check_failures++;					\
	}								\
} while (0)

/* Both strings present and equal; NULL equals nothing, not even NULL. */
static inline int
check_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static inline void
check_show(const char *label, const char *s)
{
	if (s == NULL)
		fprintf(stderr, "  %s NULL\n", label);
	else
		fprintf(stderr, "  %s \"%s\"\n", label, s);
}

/* Each argument is evaluated once; on failure both values are shown. */
#define CHECK_STREQ(a, b) do {						\
	const char *check_a_ = (a), *check_b_ = (b);			\
									\
	check_count++;							\
	if (!check_streq(check_a_, check_b_)) {				\
		fprintf(stderr, "%s:%d: %s: CHECK failed: %s == %s\n",	\
		    __FILE__, __LINE__, __func__, #a, #b);		\
		check_show("got ", check_a_);				\
		check_show("want", check_b_);				\
		check_failures++;					\
	}								\
} while (0)

/* Counts a failure that the caller has already described on stderr. */
#define CHECK_FAIL()	(check_failures++)

#define CHECK_DONE() do {						\
	if (check_failures) {						\
		fprintf(stderr, "%d failure(s), %d checks\n",		\
		    check_failures, check_count);			\
		return 1;						\
	}								\
	printf("%d checks, all passed\n", check_count);			\
	return 0;							\
} while (0)

#endif
