/* Login-name rules (common/names.c; DESIGN.md "Limits and why"). */
#include <string.h>

#include "check.h"
#include "names.h"

static int
ok(const char *s)
{
	return name_valid(s, strlen(s));
}

int
main(void)
{
	static const char *const good[] = {
		"alice", "alice@example.org", "a.b-c_d+e=f", "_x", "1user",
		"Bob@Mail.Example.ORG",
	};
	static const char *const bad[] = {
		"", ".", "..", ".alice", "-x", "a/b", "../etc", "a..b",
		"a@", "@b", "a@b@c", "a@.b", "a@-b", "a b", "a;id", "$(id)",
		"a\tb", "a\nb", "a\x7f", "caf\xc3\xa9", "a:b", "a%b", "+a",
		"a@b..c",
	};
	char	 longname[NAME_MAX_LEN + 2];
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(ok(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!ok(bad[i]));
	CHECK(!name_valid("a\0b", 3));
	memset(longname, 'a', sizeof(longname));
	CHECK(name_valid(longname, NAME_MAX_LEN));
	CHECK(!name_valid(longname, NAME_MAX_LEN + 1));
	CHECK_DONE();
}
