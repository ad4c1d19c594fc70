/*
 * The configuration parser (config.c): file syntax, every key type,
 * errors with file and line, -o overrides, and "not supported yet".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "check.h"
#include "config.h"
#include "log.h"

static char file[] = "test-config-XXXXXX";

static int
load(const char *text, struct config *c, char *const *ov, size_t nov)
{
	FILE	*fp;
	int	 fd;

	strlcpy(file, "test-config-XXXXXX", sizeof(file));
	if ((fd = mkstemp(file)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fputs(text, fp);
	fclose(fp);
	config_defaults(c);
	fd = config_load(c, file, 1, ov, nov);
	unlink(file);
	return fd;
}

static void
test_defaults(void)
{
	struct config c;

	config_defaults(&c);
	CHECK(c.nauth == 1);
	/* pop3d.conf(5)'s zero configuration; without mbox, ~/Maildir. */
	CHECK(strcmp(c.maildrop, WITH_MAILDROP_MBOX ? "mbox:/var/mail/%u" :
	    "maildir:~/Maildir") == 0);
	CHECK(c.timeout == 600 && c.max_failures == 3 && c.fail_delay == 1);
	CHECK(c.file_uid == -1 && c.file_gid == -1);
	CHECK(c.onlogin == NULL && c.onlogin_wait == 1);
	CHECK(c.sasl == SASL_PLAIN && c.apop == 0 && c.expire == -2);
	CHECK(strcmp(c.greeting, "POP3 server ready") == 0);
	config_free(&c);
	/* A missing default file is "compiled defaults"; a named one is not. */
	CHECK(config_load(&c, "/nonexistent/pop3d.conf", 0, NULL, 0) == 0);
	CHECK(config_load(&c, "/nonexistent/pop3d.conf", 1, NULL, 0) == 1);
	config_free(&c);
}

static void
test_values(void)
{
	struct config c;

	CHECK(load("# comment\n\n auth = file, unix \t\n"
	    "maildrop=maildir:~/Maildir # trailing comment\n"
	    "timeout = 700\nfile-uid = 5000\nfile-gid=\n"
	    "sasl = plain cram-md5\nexpire = never\nlogin-delay = 60\n"
	    "greeting = Hello there\n", &c, NULL, 0) == 0);
	CHECK(c.nauth == 2 && c.auth[0] == AUTH_FILE && c.auth[1] == AUTH_UNIX);
	CHECK(strcmp(c.maildrop, "maildir:~/Maildir") == 0);
	CHECK(c.timeout == 700 && c.file_uid == 5000 && c.file_gid == -1);
	CHECK(c.sasl == (SASL_PLAIN | SASL_CRAM_MD5));
	CHECK(c.expire == -1 && c.login_delay == 60);
	CHECK(strcmp(c.greeting, "Hello there") == 0);
	config_free(&c);
}

static void
test_errors(void)
{
	static const char *const bad[] = {
		"bogus = 1\n", "timeout = 0\n", "timeout = -5\n",
		"timeout = 10x\n", "timeout = 86401\n", "timeout = \n",
		"auth = file, file\n", "auth = ldap\n", "auth =\n",
		"apop = maybe\n", "sasl = LOGIN\n", "no equals sign\n",
		"= value\n", "file-uid = -1\n", "max-failures = 0\n",
		"tls = starttls\n", "onlogin-failure = maybe\n",
		"proxy-from = 127.0.0.1/8\n", "expire = soon\n",
		"maildrop =\n",
	};
	struct config c;
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int	 problems = load(bad[i], &c, NULL, 0);

		if (problems != 1)
			fprintf(stderr, "%d problems for: %s", problems, bad[i]);
		CHECK(problems == 1);
		config_free(&c);
	}
	/* Every bad line counts, not just the first. */
	CHECK(load("a = 1\nb = 2\ntimeout = 60\nc = 3\n", &c, NULL, 0) == 3);
	CHECK(c.timeout == 60);
	config_free(&c);
	/* A value that does not parse leaves the key as it was (fuzz find). */
	CHECK(load("auth = file\nauth = 1file, unix\nsasl = PLAIN FOO\n"
	    "expire = 5\nexpire = soon\n", &c, NULL, 0) == 3);
	CHECK(c.nauth == 1 && c.auth[0] == AUTH_FILE);
	CHECK(c.sasl == SASL_PLAIN && c.expire == 5);
	config_free(&c);
	/* Not-yet keys take their default value silently. */
	CHECK(load("tls = none\nonlogin =\n", &c, NULL, 0) == 0);
	config_free(&c);
}

static void
test_overrides(void)
{
	char	*ov[] = { "timeout=30", "auth=file", "greeting=a = b" };
	char	*bad[] = { "timeout", "nokey=1" };
	struct config c;

	CHECK(load("timeout = 700\n", &c, ov, 3) == 0);
	CHECK(c.timeout == 30 && c.nauth == 1 && c.auth[0] == AUTH_FILE);
	CHECK(strcmp(c.greeting, "a = b") == 0);
	config_free(&c);
	CHECK(load("", &c, bad, 2) == 2);
	config_free(&c);
}

int
main(void)
{
	log_init(1);
	test_defaults();
	test_values();
	test_errors();
	test_overrides();
	CHECK_DONE();
}
