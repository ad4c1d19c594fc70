/*
 * common/spawn.c and hooks/onlogin.c: what a started program inherits
 * (docs/onlogin.md "The contract"), clause by clause, and onlogin_run()'s
 * verdicts, deadline and log line (the same page).
 *
 * The program started is this binary again, in "probe" mode: it reports
 * what it got (ids, descriptors, signal mask and ignored signals,
 * session, umask, cwd, argv, environment).  The integration tests run
 * the same probe as pop3d's onlogin program:
 *
 *	test_spawn probe [FILE [STATUS]]	report to FILE (default
 *						stdout), print "probe done",
 *						exit STATUS
 *	test_spawn flood BYTES			a first line, then BYTES
 *						more, exit 0
 *	test_spawn line				one long line with control
 *						bytes, exit 0
 *
 * Run as root, the identity clauses are tested too (uid/gid 65534).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "onlogin.h"
#include "spawn.h"
#include "xio.h"

#include "check.h"

#define NOBODY		65534
#define REPORT_MAX	(64 * 1024)

static char dir[1024];		/* scratch directory, 0755 */
static char probe[1040];	/* a copy of this binary in it */

/* ------------------------------------------------------------------ */
/* The probe side. */

static size_t
probe_add(char *buf, size_t o, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
probe_add(char *buf, size_t o, size_t len, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (o >= len)
		return o;
	va_start(ap, fmt);
	n = vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
	return n < 0 ? o : o + (size_t)n;
}

/* Open descriptors, found without opening one (fcntl, readlink). */
static size_t
probe_fds(char *buf, size_t o, size_t len)
{
	char	 path[64], target[256];
	ssize_t	 n;
	int	 fd;

	for (fd = 0; fd < 4096; fd++) {
		if (fcntl(fd, F_GETFD) == -1)
			continue;
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((n = readlink(path, target, sizeof(target) - 1)) < 0)
			n = 0;
		target[n] = '\0';
		o = probe_add(buf, o, len, "fd=%d %s\n", fd, target);
	}
	return o;
}

/* SigBlk and SigIgn are what execve passes on (handlers are reset). */
static size_t
probe_status(char *buf, size_t o, size_t len)
{
	FILE	*f;
	char	 line[512];

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return o;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "SigBlk:", 7) == 0 ||
		    strncmp(line, "SigIgn:", 7) == 0)
			o = probe_add(buf, o, len, "%.6s=%s", line,
			    line + 7 + strspn(line + 7, " \t"));
	fclose(f);
	return o;
}

static int
probe_main(int argc, char **argv)
{
	extern char **environ;
	static char buf[REPORT_MAX];
	gid_t	 groups[64];
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg;
	mode_t	 um;
	char	 cwd[PATH_MAX];
	size_t	 o = 0;
	int	 i, n, fd = 1, status = 0;

	o = probe_fds(buf, o, sizeof(buf));
	(void)getresuid(&ru, &eu, &su);
	(void)getresgid(&rg, &eg, &sg);
	o = probe_add(buf, o, sizeof(buf), "uid=%u %u %u\ngid=%u %u %u\n",
	    ru, eu, su, rg, eg, sg);
	n = getgroups(64, groups);
	o = probe_add(buf, o, sizeof(buf), "groups=");
	for (i = 0; i < n; i++)
		o = probe_add(buf, o, sizeof(buf), "%s%u", i ? " " : "",
		    groups[i]);
	um = umask(0);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strlcpy(cwd, "?", sizeof(cwd));
	o = probe_add(buf, o, sizeof(buf),
	    "\npid=%ld\npgid=%ld\nsid=%ld\numask=%04o\ncwd=%s\n",
	    (long)getpid(), (long)getpgrp(), (long)getsid(0), um, cwd);
	o = probe_status(buf, o, sizeof(buf));
	for (i = 0; i < argc; i++)
		o = probe_add(buf, o, sizeof(buf), "argv=%s\n", argv[i]);
	for (i = 0; environ[i] != NULL; i++)
		o = probe_add(buf, o, sizeof(buf), "env=%s\n", environ[i]);
	if (o >= sizeof(buf))
		return 70;
	if (argc > 2 && (fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW, 0644)) == -1)
		return 71;
	if (write_all(fd, buf, o) != (ssize_t)o)
		return 72;
	if (argc > 3)
		status = atoi(argv[3]);
	if (fd != 1) {
		close(fd);
		(void)write_all(1, "probe done\n", 11);
	}
	return status;
}

static int
flood_main(long long bytes)
{
	char	 block[8192];
	size_t	 n;

	memset(block, 'x', sizeof(block));
	block[sizeof(block) - 1] = '\n';
	if (write_all(1, "flood starts\n", 13) != 13)
		return 1;
	while (bytes > 0) {
		n = bytes > (long long)sizeof(block) ? sizeof(block) :
		    (size_t)bytes;
		if (write_all(1, block, n) != (ssize_t)n)
			return 1;
		bytes -= (long long)n;
	}
	return 0;
}

static int
line_main(void)
{
	static const char head[] = "esc\x1b[31m\ttab\\ \x01\xff|";
	char	 line[1000];

	memset(line, 'a', sizeof(line));
	memcpy(line, head, sizeof(head) - 1);
	line[sizeof(line) - 1] = '\n';
	return write_all(1, line, sizeof(line)) == sizeof(line) ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* Helpers of the tests. */

/* Reads fd to EOF (bounded); returns a NUL-terminated malloc'd copy. */
static char *
slurp(int fd)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		*buf = calloc(1, REPORT_MAX + 1);
	size_t		 o = 0;
	ssize_t		 n;

	if (buf == NULL)
		return NULL;
	while (o < REPORT_MAX) {
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		n = read(fd, buf + o, REPORT_MAX - o);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		o += (size_t)n;
	}
	return buf;
}

/* The value of the first "key=..." line, or NULL. */
static const char *
field(const char *report, const char *key, char *out, size_t len)
{
	const char	*p = report;
	size_t		 klen = strlen(key), n;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
			n = strcspn(p + klen + 1, "\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p + klen + 1, n);
			out[n] = '\0';
			return out;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

static int
count_lines(const char *report, const char *prefix)
{
	const char	*p = report;
	int		 n = 0;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return n;
}

static int
has_line(const char *report, const char *line)
{
	const char	*p = report;
	size_t		 l = strlen(line);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, line, l) == 0 && (p[l] == '\n' || p[l] == '\0'))
			return 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

/* Runs the probe with sp's settings; its report, and its exit status. */
static char *
run_probe(struct spawn *sp, char **envp, int *wstatus)
{
	static char *argv[] = { probe, "probe", NULL };
	enum spawn_stage st;
	char	*report;
	int	 out;
	pid_t	 pid;

	sp->path = probe;
	sp->argv = argv;
	sp->envp = envp;
	if ((pid = spawn_start(sp, &out, &st)) == -1) {
		fprintf(stderr, "spawn_start: %s: %s\n", spawn_stage_name(st),
		    strerror(errno));
		CHECK_FAIL();
		return NULL;
	}
	report = slurp(out);
	close(out);
	while (waitpid(pid, wstatus, 0) == -1 && errno == EINTR)
		;
	return report;
}

static char *env_min[] = { "POP3_USER=alice", "PATH=/usr/bin:/bin", NULL };

/* ------------------------------------------------------------------ */
/* spawn_start() */

/* Exactly the given environment; the caller's is not inherited. */
static void
test_env(void)
{
	struct spawn	 sp = { .stderr_fd = -1 };
	char		*r, v[256];
	int		 st;

	setenv("LD_PRELOAD", "/nonexistent/evil.so", 1);
	setenv("IFS", "x", 1);
	setenv("TZ", "Evil/Zone", 1);
	if ((r = run_probe(&sp, env_min, &st)) == NULL)
		return;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(count_lines(r, "env=") == 2);
	CHECK(has_line(r, "env=POP3_USER=alice"));
	CHECK(has_line(r, "env=PATH=/usr/bin:/bin"));
	CHECK(count_lines(r, "env=LD_PRELOAD") == 0);
	CHECK_STREQ(field(r, "argv", v, sizeof(v)), probe);
	free(r);
	unsetenv("LD_PRELOAD");
	unsetenv("IFS");
	unsetenv("TZ");
}

/* 0 /dev/null, 1 the pipe, 2 /dev/null, nothing else (item 33). */
static void
test_fds(void)
{
	struct spawn	 sp = { .stderr_fd = -1 };
	char		*r;
	int		 st, extra[3], p[2];

	extra[0] = open("/dev/null", O_RDONLY);		/* no O_CLOEXEC */
	extra[1] = dup2(extra[0], 40);
	CHECK(pipe(p) == 0);
	extra[2] = p[0];
	if ((r = run_probe(&sp, env_min, &st)) == NULL)
		return;
	CHECK(count_lines(r, "fd=") == 3);
	CHECK(has_line(r, "fd=0 /dev/null"));
	CHECK(strstr(r, "\nfd=1 pipe:[") != NULL || strncmp(r, "fd=1 pipe:[",
	    11) == 0);
	CHECK(has_line(r, "fd=2 /dev/null"));
	free(r);
	close(extra[0]);
	close(extra[1]);
	close(p[0]);
	close(p[1]);
}

/* stderr as given. */
static void
test_stderr_given(void)
{
	struct spawn	 sp = { .stderr_fd = -1 };
	char		 path[PATH_MAX + 16], want[PATH_MAX + 32], *r;
	int		 st, fd;

	(void)snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd != -1);
	sp.stderr_fd = fd;
	if ((r = run_probe(&sp, env_min, &st)) == NULL)
		return;
	(void)snprintf(want, sizeof(want), "fd=2 %s", path);
	CHECK(has_line(r, want));
	CHECK(count_lines(r, "fd=") == 3);
	free(r);
	close(fd);
	unlink(path);
}

/*
 * Started by a caller whose fds 0-2 are closed (item 37): the pipe and
 * /dev/null then land on 0-2 in the caller, and must still end up right.
 */
static void
test_fds_closed_std(void)
{
	struct spawn	 sp = { .stderr_fd = -1 };
	char		*r;
	int		 st = 0, p[2], ok;
	pid_t		 pid;

	CHECK(pipe(p) == 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (p[1] < 3)
			_exit(3);
		close(0);
		close(1);
		close(2);
		r = run_probe(&sp, env_min, &st);
		ok = r != NULL && count_lines(r, "fd=") == 3 &&
		    has_line(r, "fd=0 /dev/null") &&
		    has_line(r, "fd=2 /dev/null") &&
		    strstr(r, "fd=1 pipe:[") != NULL;
		_exit(ok ? 0 : 4);
	}
	close(p[1]);
	close(p[0]);
	CHECK(pid != -1 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Ignored and blocked signals of the caller are not inherited. */
static void
test_signals(void)
{
	struct spawn	 sp = { .stderr_fd = -1 };
	sigset_t	 block, old;
	char		*r, v[64];
	int		 st;

	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGCHLD, SIG_DFL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	r = run_probe(&sp, env_min, &st);
	sigprocmask(SIG_SETMASK, &old, NULL);
	(void)signal(SIGHUP, SIG_DFL);
	(void)signal(SIGTERM, SIG_DFL);
	if (r == NULL)
		return;
	CHECK_STREQ(field(r, "SigBlk", v, sizeof(v)), "0000000000000000");
	CHECK_STREQ(field(r, "SigIgn", v, sizeof(v)), "0000000000000000");
	free(r);
}

/* A session and process group of its own; umask 077; cwd "/". */
static void
test_session(void)
{
	struct spawn	 sp = { .stderr_fd = -1 };
	char		*r, pid[32], v[64];
	int		 st;

	if ((r = run_probe(&sp, env_min, &st)) == NULL)
		return;
	CHECK(field(r, "pid", pid, sizeof(pid)) != NULL);
	CHECK_STREQ(field(r, "pgid", v, sizeof(v)), pid);
	CHECK_STREQ(field(r, "sid", v, sizeof(v)), pid);
	CHECK(atol(pid) != (long)getpgrp());
	CHECK_STREQ(field(r, "umask", v, sizeof(v)), "0077");
	CHECK_STREQ(field(r, "cwd", v, sizeof(v)), "/");
	free(r);
}

/* Root: becomes the user, groups included, for good (items 31, 33). */
static void
test_identity(void)
{
	struct spawn	 sp = { .stderr_fd = -1, .switch_user = 1,
			    .uid = NOBODY, .gid = NOBODY };
	gid_t		 g[2] = { 0, 4242 };
	char		*r, v[256];
	int		 st;

	if (geteuid() != 0) {
		printf("test_identity: skipped (not root)\n");
		return;
	}
	/* The caller's supplementary groups must not leak either. */
	CHECK(setgroups(2, g) == 0);
	r = run_probe(&sp, env_min, &st);
	CHECK(setgroups(1, g) == 0);
	if (r == NULL)
		return;
	CHECK_STREQ(field(r, "uid", v, sizeof(v)), "65534 65534 65534");
	CHECK_STREQ(field(r, "gid", v, sizeof(v)), "65534 65534 65534");
	CHECK_STREQ(field(r, "groups", v, sizeof(v)), "65534");
	free(r);

	/* Not switching when not asked: stays root. */
	sp.switch_user = 0;
	if ((r = run_probe(&sp, env_min, &st)) == NULL)
		return;
	CHECK_STREQ(field(r, "uid", v, sizeof(v)), "0 0 0");
	free(r);
}

static void
expect_fail(const char *path, enum spawn_stage want_stage, int want_errno)
{
	char	*argv[] = { (char *)path, NULL };
	struct spawn	 sp = { .path = path, .argv = argv, .envp = env_min,
			    .stderr_fd = -1 };
	enum spawn_stage st = SPAWN_OK;
	int	 out = -1;
	pid_t	 pid;

	errno = 0;
	pid = spawn_start(&sp, &out, &st);
	CHECK(pid == -1);
	CHECK(st == want_stage);
	CHECK(errno == want_errno);
	if (pid == -1 && (st != want_stage || errno != want_errno))
		fprintf(stderr, "  %s: stage %s errno %s\n", path,
		    spawn_stage_name(st), strerror(errno));
	CHECK(out == -1);
}

/* A missing, non-executable or relative program: known at once. */
static void
test_exec_failures(void)
{
	char	 path[PATH_MAX + 16];
	int	 fd, st;

	expect_fail("/nonexistent/program", SPAWN_EXEC, ENOENT);
	(void)snprintf(path, sizeof(path), "%s/not-executable", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd != -1);
	close(fd);
	expect_fail(path, SPAWN_EXEC, EACCES);
	expect_fail(dir, SPAWN_EXEC, EACCES);
	expect_fail("bin/true", SPAWN_FORK, EINVAL);
	/* Nothing was left to reap. */
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
}

/* ------------------------------------------------------------------ */
/* onlogin_run() */

static struct onlogin_info info = {
	.user = "alice@example.org", .home = "/home/alice",
	.maildrop = "maildir:/var/mail/alice",
	.state_dir = "/var/lib/pop3d/65534", .uid = NOBODY, .gid = NOBODY,
	.client_addr = "192.0.2.7", .client_port = "50123",
	.server_addr = "198.51.100.1", .server_port = "110",
	.method = "USER",
};

static char logpath[1040];

static void
config_for(struct config *c, const char *cmd, int wait, long long timeout,
    enum onlogin_failure failure)
{
	memset(c, 0, sizeof(*c));
	c->onlogin = (char *)cmd;
	c->onlogin_wait = wait;
	c->onlogin_timeout = timeout;
	c->onlogin_failure = failure;
}

/*
 * Runs onlogin_run with fd 2 (the -d log) on a file; returns the result,
 * the milliseconds it took, and the log in `log`.
 */
static enum onlogin_result
run_onlogin(const struct config *c, long *ms, char *log, size_t loglen)
{
	struct timespec	 a, b;
	enum onlogin_result res;
	int		 fd, saved;
	ssize_t		 n;

	fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
	saved = dup(2);
	dup2(fd, 2);
	clock_gettime(CLOCK_MONOTONIC, &a);
	res = onlogin_run(c, &info);
	clock_gettime(CLOCK_MONOTONIC, &b);
	dup2(saved, 2);
	close(saved);
	*ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	n = pread(fd, log, loglen - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	return res;
}

static void
write_script(const char *name, const char *body, char *path, size_t len)
{
	int	 fd;

	(void)snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd != -1 && write_all(fd, body, strlen(body)) ==
	    (ssize_t)strlen(body));
	close(fd);
	chmod(path, 0755);
}

/* The log line of the program's end, with the pid prefix taken off. */
static int
log_has(const char *log, const char *want)
{
	const char	*p = log;

	while ((p = strstr(p, "]: ")) != NULL) {
		p += 3;
		if (strncmp(p, want, strlen(want)) == 0 &&
		    (p[strlen(want)] == '\n' || p[strlen(want)] == '\0'))
			return 1;
	}
	return 0;
}

static void
test_onlogin_status(void)
{
	struct config	 c;
	char		 cmd[PATH_MAX * 2], script[PATH_MAX], log[8192];
	long		 ms;

	config_for(&c, NULL, 1, 5, ONLOGIN_IGNORE);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	CHECK(log[0] == '\0');

	write_script("exit.sh", "#!/bin/sh\necho \"said $1\"\nexit $1\n",
	    script, sizeof(script));
	(void)snprintf(cmd, sizeof(cmd), "%s 0", script);
	config_for(&c, cmd, 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	CHECK(log_has(log, "onlogin user=alice@example.org status=0 said 0"));

	/* 75 refuses even with onlogin-failure = ignore. */
	(void)snprintf(cmd, sizeof(cmd), "%s\t 75 ", script);
	config_for(&c, cmd, 1, 5, ONLOGIN_IGNORE);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	CHECK(log_has(log, "onlogin user=alice@example.org status=75 said 75"));

	(void)snprintf(cmd, sizeof(cmd), "%s 3", script);
	config_for(&c, cmd, 1, 5, ONLOGIN_IGNORE);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	CHECK(log_has(log, "onlogin user=alice@example.org status=3 said 3"));
	c.onlogin_failure = ONLOGIN_DENY;
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);

	/* Killed by a signal: 128 + signal. */
	write_script("kill.sh", "#!/bin/sh\nkill -TERM $$\n", script,
	    sizeof(script));
	config_for(&c, script, 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	CHECK(log_has(log, "onlogin user=alice@example.org status=143"));
}

/* Missing, non-executable, relative: failures that follow the policy. */
static void
test_onlogin_cannot_run(void)
{
	struct config	 c;
	char		 cmd[PATH_MAX * 2], log[8192];
	long		 ms;

	config_for(&c, "/nonexistent/hook arg", 1, 5, ONLOGIN_IGNORE);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	CHECK(log_has(log, "onlogin user=alice@example.org status=127"));
	CHECK(strstr(log, "/nonexistent/hook: execve: No such file") != NULL);
	c.onlogin_failure = ONLOGIN_DENY;
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);

	(void)snprintf(cmd, sizeof(cmd), "%s/not-executable", dir);
	config_for(&c, cmd, 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	CHECK(log_has(log, "onlogin user=alice@example.org status=126"));
	CHECK(strstr(log, "Permission denied") != NULL);

	config_for(&c, "bin/true", 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	CHECK(strstr(log, "absolute path") != NULL);
}

static int
process_gone(pid_t pid)
{
	char	 path[64], buf[512], *p;
	int	 fd;
	ssize_t	 n;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	/* A zombie waiting for init to reap it is gone as well. */
	return (p = strrchr(buf, ')')) != NULL && p[1] == ' ' && p[2] == 'Z';
}

static pid_t
read_pid(const char *name)
{
	char	 path[PATH_MAX + 16], buf[32];
	ssize_t	 n;
	int	 fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return (pid_t)atol(buf);
}

/*
 * The deadline (item 36): a hung program and the grandchild it started
 * are both killed, as one process group, at onlogin-timeout.
 */
static void
test_onlogin_timeout(void)
{
	struct config	 c;
	char		 body[PATH_MAX * 3], script[PATH_MAX], log[8192];
	pid_t		 p1, p2;
	long		 ms;
	int		 i;

	(void)snprintf(body, sizeof(body), "#!/bin/sh\n"
	    "sleep 300 &\necho $! > %s/grandchild.pid\n"
	    "echo $$ > %s/child.pid\necho started\nexec sleep 300\n",
	    dir, dir);
	write_script("hang.sh", body, script, sizeof(script));
	chmod(dir, 0777);	/* the pid files, written as nobody */
	config_for(&c, script, 1, 1, ONLOGIN_IGNORE);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	chmod(dir, 0755);
	CHECK(ms >= 900 && ms < 4000);
	CHECK(log_has(log, "onlogin user=alice@example.org status=137 "
	    "started"));
	CHECK(strstr(log, "still running after 1 s") != NULL);
	p1 = read_pid("child.pid");
	p2 = read_pid("grandchild.pid");
	CHECK(p1 > 0 && p2 > 0);
	for (i = 0; i < 100 && p2 > 0 && !process_gone(p2); i++)
		usleep(20000);
	CHECK(p1 > 0 && process_gone(p1));
	CHECK(p2 > 0 && process_gone(p2));
	c.onlogin_failure = ONLOGIN_DENY;
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	if ((p2 = read_pid("grandchild.pid")) > 0)
		(void)kill(p2, SIGKILL);
}

/*
 * A program that exits at once but leaves a grandchild holding its
 * stdout: the login goes on when the program ends, not at the deadline.
 */
static void
test_onlogin_grandchild_keeps_pipe(void)
{
	struct config	 c;
	char		 body[PATH_MAX * 2], script[PATH_MAX], log[8192];
	pid_t		 p;
	long		 ms;

	(void)snprintf(body, sizeof(body), "#!/bin/sh\n"
	    "sleep 300 &\necho $! > %s/bg.pid\necho bye\nexit 0\n", dir);
	write_script("bg.sh", body, script, sizeof(script));
	chmod(dir, 0777);
	config_for(&c, script, 1, 10, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	chmod(dir, 0755);
	CHECK(ms < 3000);
	CHECK(log_has(log, "onlogin user=alice@example.org status=0 bye"));
	if ((p = read_pid("bg.pid")) > 0)
		(void)kill(p, SIGKILL);
}

/* Output floods: neither blocked on nor kept (bounded, first line). */
static void
test_onlogin_output(void)
{
	struct config	 c;
	struct rusage	 ru;
	char		 cmd[PATH_MAX * 2], log[8192], want[1024];
	long		 ms, before;

	getrusage(RUSAGE_SELF, &ru);
	before = ru.ru_maxrss;
	(void)snprintf(cmd, sizeof(cmd), "%s flood 104857600", probe);
	config_for(&c, cmd, 1, 30, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	CHECK(log_has(log, "onlogin user=alice@example.org status=0 "
	    "flood starts"));
	getrusage(RUSAGE_SELF, &ru);
	CHECK(ru.ru_maxrss - before < 4096);	/* KiB: nothing buffered */

	/* A flood that never ends: killed at the deadline. */
	config_for(&c, "/usr/bin/yes", 1, 1, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	CHECK(log_has(log, "onlogin user=alice@example.org status=137 y"));

	/* Escaped, cut at ONLOGIN_LINE_MAX, marked with "...". */
	(void)snprintf(cmd, sizeof(cmd), "%s line", probe);
	config_for(&c, cmd, 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	(void)snprintf(want, sizeof(want), "onlogin user=alice@example.org "
	    "status=0 esc\\x1b[31m\\x09tab\\x5c \\x01\\xff|%.*s...",
	    ONLOGIN_LINE_MAX - 17, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK(log_has(log, want));
	if (!log_has(log, want))
		fprintf(stderr, "  log: %s\n  want: %s\n", log, want);
}

/* The environment through onlogin_run: exactly docs/onlogin.md's table. */
static void
test_onlogin_env(void)
{
	static const char *const want[] = {
		"env=POP3_USER=alice@example.org",
		"env=POP3_LOCAL_PART=alice", "env=POP3_DOMAIN=example.org",
		"env=POP3_HOME=/home/alice", "env=POP3_UID=65534",
		"env=POP3_GID=65534",
		"env=POP3_MAILDROP=maildir:/var/mail/alice",
		"env=POP3_STATE_DIR=/var/lib/pop3d/65534",
		"env=POP3_CLIENT_ADDR=192.0.2.7", "env=POP3_CLIENT_PORT=50123",
		"env=POP3_SERVER_ADDR=198.51.100.1",
		"env=POP3_SERVER_PORT=110", "env=POP3_AUTH_METHOD=USER",
		"env=PATH=/usr/local/bin:/usr/bin:/bin",
	};
	struct config	 c;
	char		 cmd[PATH_MAX * 3], out[PATH_MAX + 16], log[8192], *r;
	size_t		 i;
	long		 ms;
	int		 fd;

	(void)snprintf(out, sizeof(out), "%s/report", dir);
	(void)snprintf(cmd, sizeof(cmd), "%s probe %s", probe, out);
	chmod(dir, 0777);
	setenv("LD_PRELOAD", "/nonexistent/evil.so", 1);
	config_for(&c, cmd, 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	unsetenv("LD_PRELOAD");
	chmod(dir, 0755);
	CHECK(log_has(log, "onlogin user=alice@example.org status=0 "
	    "probe done"));
	if ((fd = open(out, O_RDONLY)) == -1) {
		CHECK(fd != -1);
		return;
	}
	r = slurp(fd);
	close(fd);
	unlink(out);
	CHECK(count_lines(r, "env=") == (int)(sizeof(want) / sizeof(want[0])));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(has_line(r, want[i]));
	CHECK(count_lines(r, "argv=") == 3);
	CHECK(has_line(r, "argv=probe"));
	if (geteuid() == 0)
		CHECK(has_line(r, "uid=65534 65534 65534"));
	free(r);
}

/* onlogin-wait = no: back at once, no child left to reap. */
static void
test_onlogin_nowait(void)
{
	struct config	 c;
	char		 script[PATH_MAX], log[8192];
	long		 ms;
	int		 st, i;

	write_script("slow.sh", "#!/bin/sh\nsleep 1\necho slept\nexit 3\n",
	    script, sizeof(script));
	config_for(&c, script, 0, 5, ONLOGIN_IGNORE);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	CHECK(ms < 500);
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
	/* The monitor logs the end later, to the same log. */
	for (i = 0; i < 150; i++) {
		int	 fd = open(logpath, O_RDONLY);
		ssize_t	 n = pread(fd, log, sizeof(log) - 1, 0);

		close(fd);
		log[n > 0 ? n : 0] = '\0';
		if (log_has(log, "onlogin user=alice@example.org status=3 "
		    "slept"))
			break;
		usleep(20000);
	}
	CHECK(log_has(log, "onlogin user=alice@example.org status=3 slept"));
}

/* Root is never the default (item 33). */
static void
test_onlogin_not_root(void)
{
	struct config	 c;
	struct onlogin_info saved = info;
	char		 log[8192];
	long		 ms;

	if (geteuid() != 0) {
		printf("test_onlogin_not_root: skipped (not root)\n");
		return;
	}
	info.uid = 0;
	info.gid = 0;
	config_for(&c, "/bin/true", 1, 5, ONLOGIN_DENY);
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	CHECK(strstr(log, "not run as root") != NULL);
	c.onlogin_user = "root";
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_GO);
	c.onlogin_user = "nonexistent-user-xyz";
	CHECK(run_onlogin(&c, &ms, log, sizeof(log)) == ONLOGIN_DENY_TEMP);
	info = saved;
}

static void
test_onlogin_config_check(void)
{
	struct config	 c;

	config_for(&c, "/bin/true", 1, 5, ONLOGIN_IGNORE);
	CHECK(onlogin_config_check(&c) == 0);
	c.onlogin = "true";
	CHECK(onlogin_config_check(&c) == 1);
	c.onlogin = "   ";
	CHECK(onlogin_config_check(&c) == 1);
	c.onlogin = "/bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
	    "19 20 21 22 23 24 25 26 27 28 29 30 31";
	CHECK(onlogin_config_check(&c) == 0);
	c.onlogin = "/bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
	    "19 20 21 22 23 24 25 26 27 28 29 30 31 32";
	CHECK(onlogin_config_check(&c) == 1);
	c.onlogin = "/bin/true";
	c.onlogin_failure = ONLOGIN_DENY;
	c.onlogin_wait = 0;
	CHECK(onlogin_config_check(&c) == 1);
	c.onlogin_wait = 1;
	c.onlogin_user = "root";
	CHECK(onlogin_config_check(&c) == 0);
	c.onlogin_user = "nonexistent-user-xyz";
	CHECK(onlogin_config_check(&c) == 1);
}

/* ------------------------------------------------------------------ */

static int
setup(void)
{
	const char	*base = getenv("TMPDIR");
	char		 self[PATH_MAX], buf[65536];
	ssize_t		 n;
	int		 in, out;

	if (base == NULL || *base == '\0')
		base = "/var/tmp";
	(void)snprintf(dir, sizeof(dir), "%s/test_spawn.XXXXXX", base);
	if (mkdtemp(dir) == NULL || chmod(dir, 0755) == -1)
		return -1;
	(void)snprintf(logpath, sizeof(logpath), "%s/log", dir);
	/* A copy that every user can run, wherever the build tree is. */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	(void)snprintf(probe, sizeof(probe), "%s/probe", dir);
	if ((in = open(self, O_RDONLY)) == -1 || (out = open(probe,
	    O_WRONLY | O_CREAT | O_EXCL, 0755)) == -1)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) != n)
			return -1;
	close(in);
	close(out);
	return chmod(probe, 0755);
}

static void
cleanup(void)
{
	static const char *const files[] = { "probe", "log", "stderr",
	    "not-executable", "exit.sh", "kill.sh", "hang.sh", "bg.sh",
	    "slow.sh", "child.pid", "grandchild.pid", "bg.pid", "report" };
	char	 path[PATH_MAX + 32];
	size_t	 i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	if (rmdir(dir) == -1)
		fprintf(stderr, "rmdir %s: %s\n", dir, strerror(errno));
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "probe") == 0)
		return probe_main(argc, argv);
	if (argc > 2 && strcmp(argv[1], "flood") == 0)
		return flood_main(atoll(argv[2]));
	if (argc > 1 && strcmp(argv[1], "line") == 0)
		return line_main();
	log_init(1);
	if (setup() == -1) {
		perror("setup");
		return 1;
	}
	test_env();
	test_fds();
	test_stderr_given();
	test_fds_closed_std();
	test_signals();
	test_session();
	test_identity();
	test_exec_failures();
	test_onlogin_status();
	test_onlogin_cannot_run();
	test_onlogin_timeout();
	test_onlogin_grandchild_keeps_pipe();
	test_onlogin_output();
	test_onlogin_env();
	test_onlogin_nowait();
	test_onlogin_not_root();
	test_onlogin_config_check();
	cleanup();
	CHECK_DONE();
}
