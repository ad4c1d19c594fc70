/*
 * spawn_start(): the one fork+exec (see spawn.h for what the program gets).
 *
 * The child never returns into the caller's code: it either execs or
 * writes { stage, errno } on a close-on-exec pipe and _exit()s.  The
 * parent reads that pipe until EOF, so a successful execve (which closes
 * the pipe) and a failure are told apart before spawn_start() returns.
 * All signals are blocked across fork(), so no handler of the caller can
 * run in the child before the dispositions are reset.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"
#include "spawn.h"
#include "xio.h"

/* Scratch descriptors are moved at or above this before fds 0-3 are set. */
#define SPAWN_HIGH_FD	10
/* Where the child keeps its report pipe: closed by execve (O_CLOEXEC). */
#define SPAWN_REPORT_FD	3

struct spawn_report {
	int	 stage;
	int	 err;
};

static const char *const stage_names[] = {
	[SPAWN_OK] = "started",
	[SPAWN_FORK] = "fork",
	[SPAWN_IDENTITY] = "switching user",
	[SPAWN_DESCRIPTORS] = "setting up descriptors",
	[SPAWN_SESSION] = "new session",
	[SPAWN_EXEC] = "execve",
};

const char *
spawn_stage_name(enum spawn_stage s)
{
	if ((size_t)s >= sizeof(stage_names) / sizeof(stage_names[0]))
		return "?";
	return stage_names[s];
}

static void __attribute__((noreturn))
spawn_child_fail(int report, enum spawn_stage stage)
{
	struct spawn_report r = { (int)stage, errno };

	(void)write_all(report, &r, sizeof(r));
	_exit(127);
}

/* Default disposition for every signal, then an empty mask. */
static void
spawn_child_signals(void)
{
	struct sigaction sa;
	sigset_t	 none;
	int		 sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* SIGKILL, SIGSTOP and the C library's own signals refuse: fine. */
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/*
 * fds 0, 1, 2 and the report pipe at 3, nothing else.  Every source is
 * first copied above SPAWN_HIGH_FD, so that no dup2() can overwrite a
 * source that happened to sit at 0-3 (a caller started with closed
 * standard descriptors; docs/onlogin.md "Descriptors").
 */
static int
spawn_child_fds(int out, int err, int report)
{
	int	 src[4], i;

	if ((src[0] = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return -1;
	src[1] = out;
	src[2] = err;
	src[3] = report;
	for (i = 0; i < 4; i++) {
		if (src[i] == -1)
			src[i] = src[0];
		if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC,
		    SPAWN_HIGH_FD)) == -1)
			return -1;
	}
	/* dup2 clears close-on-exec: 0-2 survive execve, 3 must not. */
	for (i = 0; i < 4; i++)
		if (dup2(src[i], i) == -1)
			return -1;
	if (fcntl(SPAWN_REPORT_FD, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	closefrom(SPAWN_REPORT_FD + 1);
	return 0;
}

static void __attribute__((noreturn))
spawn_child(const struct spawn *sp, int out, int report)
{
	/* Identity first, while errors can still reach the caller's log. */
	if (sp->switch_user && geteuid() == 0 &&
	    priv_drop(sp->uid, sp->gid, sp->groups_of) == -1) {
		if (errno == 0)
			errno = EPERM;
		spawn_child_fail(report, SPAWN_IDENTITY);
	}
	if (spawn_child_fds(out, sp->stderr_fd, report) == -1)
		spawn_child_fail(report, SPAWN_DESCRIPTORS);
	report = SPAWN_REPORT_FD;
	/* Its own session and process group: killpg() reaches all of it. */
	if (setsid() == -1 || chdir("/") == -1)
		spawn_child_fail(report, SPAWN_SESSION);
	(void)umask(077);
	spawn_child_signals();
	execve(sp->path, sp->argv, sp->envp);
	spawn_child_fail(report, SPAWN_EXEC);
}

/* The child's report: SPAWN_OK at EOF (it exec'ed), else what failed. */
static enum spawn_stage
spawn_read_report(int fd, int *err)
{
	struct spawn_report r;
	ssize_t		 n;

	n = read_full(fd, &r, sizeof(r));
	if (n == 0)
		return SPAWN_OK;
	if (n != (ssize_t)sizeof(r) || r.stage <= SPAWN_OK ||
	    r.stage > SPAWN_EXEC) {
		*err = EIO;
		return SPAWN_FORK;
	}
	*err = r.err;
	return (enum spawn_stage)r.stage;
}

pid_t
spawn_start(const struct spawn *sp, int *outfd, enum spawn_stage *stage)
{
	sigset_t	 all, old;
	int		 out[2] = { -1, -1 }, rep[2], err = 0, status;
	pid_t		 pid;

	*stage = SPAWN_FORK;
	if (sp->path == NULL || sp->path[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	if (pipe2(rep, O_CLOEXEC) == -1)
		return -1;
	if (outfd != NULL && pipe2(out, O_CLOEXEC) == -1) {
		err = errno;
		close(rep[0]);
		close(rep[1]);
		errno = err;
		return -1;
	}
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0) {
		close(rep[0]);
		if (out[0] != -1)
			close(out[0]);
		spawn_child(sp, out[1], rep[1]);
	}
	err = errno;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	close(rep[1]);
	if (out[1] != -1)
		close(out[1]);
	if (pid == -1) {
		close(rep[0]);
		if (out[0] != -1)
			close(out[0]);
		errno = err;
		return -1;
	}
	*stage = spawn_read_report(rep[0], &err);
	close(rep[0]);
	if (*stage != SPAWN_OK) {
		if (out[0] != -1)
			close(out[0]);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		errno = err;
		return -1;
	}
	if (outfd != NULL) {
		(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
		*outfd = out[0];
	}
	return pid;
}
