/*
 * The onlogin hook (docs/onlogin.md "The contract"; DESIGN.md "The
 * onlogin program").
 *
 * onlogin_run() builds the argv (the `onlogin` key split on blanks: never
 * a shell, never a byte from the client), the environment (exactly the
 * POP3_* variables and PATH), and the identity, then hands them to
 * spawn_start(), the one audited fork+exec.  With onlogin-wait = yes it
 * watches the program: reads its standard output (the first line kept for
 * the log, the rest read and thrown away so that a chatty program never
 * blocks on a full pipe nor makes us buffer it), and at the deadline
 * kills its whole process group.  With onlogin-wait = no, a detached
 * monitor process (a grandchild, reparented to init, so no zombie is
 * left to the session) does the same and the session goes on at once.
 */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "names.h"
#include "onlogin.h"
#include "priv.h"
#include "spawn.h"

/* docs/onlogin.md: PATH is the one variable not named POP3_*. */
#define ONLOGIN_PATH		"/usr/local/bin:/usr/bin:/bin"
#define ONLOGIN_ENV_MAX		14
#define ONLOGIN_ENV_SIZE	(3 * PATH_MAX + 1024)
/* What is read after the program ended (a grandchild may keep writing). */
#define ONLOGIN_DRAIN_MAX	(64 * 1024)
/* Without pidfd_open (Linux < 5.3), how often waitpid is polled. */
#define ONLOGIN_POLL_MS		10
/* Statuses for a program that never ran, as sh(1) reports them. */
#define ONLOGIN_ST_NOTFOUND	127
#define ONLOGIN_ST_CANNOT	126

struct onlogin_env {
	char	 arena[ONLOGIN_ENV_SIZE];
	size_t	 used;
	char	*envp[ONLOGIN_ENV_MAX + 1];
	size_t	 n;
};

struct onlogin_outcome {
	int	 status;	/* see onlogin.h */
	int	 timed_out;
	char	 line[ONLOGIN_LINE_MAX];
	size_t	 len;
	int	 line_done;	/* a newline was seen */
	int	 truncated;	/* the first line was longer */
};

static int
onlogin_env_add(struct onlogin_env *e, const char *name, const char *value,
    size_t vlen)
{
	size_t	 nlen = strlen(name);

	if (e->n == ONLOGIN_ENV_MAX ||
	    nlen + vlen + 2 > sizeof(e->arena) - e->used)
		return -1;
	e->envp[e->n++] = e->arena + e->used;
	memcpy(e->arena + e->used, name, nlen);
	e->arena[e->used + nlen] = '=';
	memcpy(e->arena + e->used + nlen + 1, value, vlen);
	e->used += nlen + vlen + 1;
	e->arena[e->used++] = '\0';
	e->envp[e->n] = NULL;
	return 0;
}

static int
onlogin_env_str(struct onlogin_env *e, const char *name, const char *value)
{
	if (value == NULL)
		value = "";
	return onlogin_env_add(e, name, value, strlen(value));
}

static int
onlogin_env_id(struct onlogin_env *e, const char *name, unsigned long id)
{
	char	 num[32];

	(void)snprintf(num, sizeof(num), "%lu", id);
	return onlogin_env_str(e, name, num);
}

/* docs/onlogin.md "The contract": these variables, and nothing else. */
static int
onlogin_env_build(struct onlogin_env *e, const struct onlogin_info *in)
{
	const char	*at = strchr(in->user, '@');
	size_t		 llen = at != NULL ? (size_t)(at - in->user) :
			    strlen(in->user);

	e->used = e->n = 0;
	e->envp[0] = NULL;
	if (onlogin_env_str(e, "POP3_USER", in->user) == -1 ||
	    onlogin_env_add(e, "POP3_LOCAL_PART", in->user, llen) == -1 ||
	    onlogin_env_str(e, "POP3_DOMAIN", at != NULL ? at + 1 : "") == -1 ||
	    onlogin_env_str(e, "POP3_HOME", in->home) == -1 ||
	    onlogin_env_id(e, "POP3_UID", (unsigned long)in->uid) == -1 ||
	    onlogin_env_id(e, "POP3_GID", (unsigned long)in->gid) == -1 ||
	    onlogin_env_str(e, "POP3_MAILDROP", in->maildrop) == -1 ||
	    onlogin_env_str(e, "POP3_STATE_DIR", in->state_dir) == -1 ||
	    onlogin_env_str(e, "POP3_CLIENT_ADDR", in->client_addr) == -1 ||
	    onlogin_env_str(e, "POP3_CLIENT_PORT", in->client_port) == -1 ||
	    onlogin_env_str(e, "POP3_SERVER_ADDR", in->server_addr) == -1 ||
	    onlogin_env_str(e, "POP3_SERVER_PORT", in->server_port) == -1 ||
	    onlogin_env_str(e, "POP3_AUTH_METHOD", in->method) == -1 ||
	    onlogin_env_str(e, "PATH", ONLOGIN_PATH) == -1)
		return -1;
	return 0;
}

/*
 * Who the program runs as.  Not root: ourselves, nothing to switch.
 * Root: onlogin-user, else the mail user; uid 0 only when the key says
 * "root" in so many words (docs/onlogin.md, "Identity").
 */
static int
onlogin_identity(const struct config *cfg, const struct onlogin_info *in,
    struct spawn *sp, char *name, size_t namelen, char *esc)
{
	struct passwd	*pw;

	sp->switch_user = 0;
	if (geteuid() != 0)
		return 0;
	sp->switch_user = 1;
	if (cfg->onlogin_user == NULL) {
		if (in->uid == 0) {
			log_warnx("onlogin user=%s: not run as root (set "
			    "onlogin-user = root to allow it)", esc);
			return -1;
		}
		sp->uid = in->uid;
		sp->gid = in->gid;
		sp->groups_of = in->system_user ? in->user : NULL;
		return 0;
	}
	if ((pw = getpwnam(cfg->onlogin_user)) == NULL) {
		log_warnx("onlogin user=%s: onlogin-user %s does not exist",
		    esc, cfg->onlogin_user);
		return -1;
	}
	if (pw->pw_uid == 0 && strcmp(cfg->onlogin_user, "root") != 0) {
		log_warnx("onlogin user=%s: onlogin-user %s has uid 0; "
		    "only \"root\" may", esc, cfg->onlogin_user);
		return -1;
	}
	sp->uid = pw->pw_uid;
	sp->gid = pw->pw_gid;
	if (strlcpy(name, cfg->onlogin_user, namelen) >= namelen)
		return -1;
	sp->groups_of = name;
	return 0;
}

static long long
onlogin_now_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Keeps the first line of what the program wrote, drops the rest. */
static void
onlogin_feed(struct onlogin_outcome *o, const char *buf, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && !o->line_done; i++) {
		if (buf[i] == '\n')
			o->line_done = 1;
		else if (o->len < sizeof(o->line))
			o->line[o->len++] = buf[i];
		else
			o->truncated = 1;
	}
}

/* Reads what is there now; 1 at EOF or error, else 0. */
static int
onlogin_read(int fd, struct onlogin_outcome *o, size_t max)
{
	char	 buf[4096];
	size_t	 total = 0;
	ssize_t	 n;

	while (total < max) {
		n = read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return 1;
		onlogin_feed(o, buf, (size_t)n);
		total += (size_t)n;
	}
	return 0;
}

static int
onlogin_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return ONLOGIN_ST_CANNOT;
}

static int
onlogin_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/*
 * Until the program has exited or the deadline: its output is read as it
 * comes, and its exit is seen through a pidfd (or by polling waitpid).
 * The pipe's EOF is not waited for: a grandchild may hold it open.  At
 * the deadline the whole process group goes (docs/onlogin.md).
 */
static void
onlogin_watch(pid_t pid, int outfd, long long timeout_s,
    struct onlogin_outcome *o)
{
	struct pollfd	 pfd[2];
	long long	 deadline = onlogin_now_ms() + timeout_s * 1000, left;
	int		 pidfd = onlogin_pidfd(pid), nfd, wstatus;
	pid_t		 r;

	for (;;) {
		while ((r = waitpid(pid, &wstatus, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (r != 0)
			break;
		if ((left = deadline - onlogin_now_ms()) <= 0) {
			(void)killpg(pid, SIGKILL);
			while (waitpid(pid, &wstatus, 0) == -1 &&
			    errno == EINTR)
				;
			o->timed_out = 1;
			break;
		}
		nfd = 0;
		if (outfd != -1) {
			pfd[nfd].fd = outfd;
			pfd[nfd++].events = POLLIN;
		}
		if (pidfd != -1) {
			pfd[nfd].fd = pidfd;
			pfd[nfd++].events = POLLIN;
		}
		if (pidfd == -1 && left > ONLOGIN_POLL_MS)
			left = ONLOGIN_POLL_MS;
		if (poll(pfd, (nfds_t)nfd, (int)left) > 0 && outfd != -1 &&
		    pfd[0].revents != 0 &&
		    onlogin_read(outfd, o, ONLOGIN_DRAIN_MAX)) {
			close(outfd);
			outfd = -1;
		}
	}
	if (r == -1)
		o->status = ONLOGIN_ST_CANNOT;
	else
		o->status = onlogin_status(wstatus);
	if (outfd != -1) {
		/* What it wrote just before it ended is still in the pipe. */
		(void)onlogin_read(outfd, o, ONLOGIN_DRAIN_MAX);
		close(outfd);
	}
	if (pidfd != -1)
		close(pidfd);
}

/* Starts and watches the program; fills o (never fails). */
static void
onlogin_exec(const struct config *cfg, const struct spawn *sp,
    const char *esc, struct onlogin_outcome *o)
{
	enum spawn_stage stage;
	pid_t		 pid;
	int		 outfd;

	if ((pid = spawn_start(sp, &outfd, &stage)) == -1) {
		log_warn("onlogin user=%s: %s: %s", esc, sp->path,
		    spawn_stage_name(stage));
		o->status = stage == SPAWN_EXEC && errno == ENOENT ?
		    ONLOGIN_ST_NOTFOUND : ONLOGIN_ST_CANNOT;
		return;
	}
	onlogin_watch(pid, outfd, cfg->onlogin_timeout, o);
	if (o->timed_out)
		log_warnx("onlogin user=%s: %s still running after %lld s, "
		    "its process group was killed", esc, sp->path,
		    cfg->onlogin_timeout);
}

/*
 * The program's words reach the log with control bytes, 8-bit bytes and
 * backslashes as \xNN (a line can neither be split nor forged); spaces
 * stay, as this is the last field of the line.
 */
static void
onlogin_escape_line(const struct onlogin_outcome *o, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 i, n = 0;
	size_t		 l = o->len;

	if (l > 0 && o->line[l - 1] == '\r')
		l--;
	for (i = 0; i < l && n + 5 < len; i++) {
		unsigned char c = (unsigned char)o->line[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[n++] = (char)c;
		else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (o->truncated && n + 4 < len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static void
onlogin_log(const char *esc, const struct onlogin_outcome *o)
{
	char	 line[ONLOGIN_LINE_MAX * 4 + 8];

	onlogin_escape_line(o, line, sizeof(line));
	log_info("onlogin user=%s status=%d%s%s", esc, o->status,
	    line[0] != '\0' ? " " : "", line);
}

/*
 * onlogin-wait = no.  A grandchild watches the program so that nothing
 * is left for the session to reap; it keeps no descriptor of the session
 * (fd 2 only when it is the -d log), and runs as the program's user.
 */
static void __attribute__((noreturn))
onlogin_monitor(const struct config *cfg, struct spawn *sp, const char *esc)
{
	struct onlogin_outcome o;
	int		 null, keep = log_to_stderr();

	if ((null = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(null, 0) == -1 || dup2(null, 1) == -1 ||
	    (!keep && dup2(null, 2) == -1))
		_exit(1);
	closelog();
	closefrom(3);
	log_init(keep);
	if (sp->switch_user && geteuid() == 0) {
		if (priv_drop(sp->uid, sp->gid, sp->groups_of) == -1)
			_exit(1);
		sp->switch_user = 0;
	}
	sp->stderr_fd = keep ? 2 : -1;
	memset(&o, 0, sizeof(o));
	onlogin_exec(cfg, sp, esc, &o);
	onlogin_log(esc, &o);
	_exit(0);
}

static void
onlogin_detach(const struct config *cfg, struct spawn *sp, const char *esc)
{
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == -1) {
		log_warn("onlogin user=%s: fork", esc);
		return;
	}
	if (pid == 0) {
		/* Out of the session's process group, then orphaned. */
		if (setsid() == -1 || (pid = fork()) == -1)
			_exit(1);
		if (pid != 0)
			_exit(0);
		onlogin_monitor(cfg, sp, esc);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
}

static enum onlogin_result
onlogin_decide(const struct config *cfg, const struct onlogin_outcome *o)
{
	if (!o->timed_out && o->status == 0)
		return ONLOGIN_GO;
	/* docs/onlogin.md: 75 refuses whatever onlogin-failure says. */
	if (!o->timed_out && o->status == ONLOGIN_EX_TEMPFAIL)
		return ONLOGIN_DENY_TEMP;
	return cfg->onlogin_failure == ONLOGIN_DENY ? ONLOGIN_DENY_TEMP :
	    ONLOGIN_GO;
}

enum onlogin_result
onlogin_run(const struct config *cfg, const struct onlogin_info *in)
{
	struct onlogin_argv a;
	struct onlogin_env env;
	struct onlogin_outcome o;
	struct spawn	 sp;
	const char	*err;
	char		 esc[NAME_MAX_LEN * 4 + 1], name[LOGIN_NAME_MAX + 1];

	if (cfg->onlogin == NULL)
		return ONLOGIN_GO;
	log_escape(in->user, strlen(in->user), esc, sizeof(esc));
	memset(&o, 0, sizeof(o));
	memset(&sp, 0, sizeof(sp));
	o.status = ONLOGIN_ST_CANNOT;
	if (onlogin_argv(cfg->onlogin, &a, &err) == -1) {
		log_warnx("onlogin user=%s: onlogin: %s", esc, err);
		goto done;
	}
	if (onlogin_env_build(&env, in) == -1) {
		log_warnx("onlogin user=%s: environment too large", esc);
		goto done;
	}
	if (onlogin_identity(cfg, in, &sp, name, sizeof(name), esc) == -1)
		goto done;
	sp.path = a.argv[0];
	sp.argv = a.argv;
	sp.envp = env.envp;
	sp.stderr_fd = log_to_stderr() ? 2 : -1;
	if (!cfg->onlogin_wait) {
		onlogin_detach(cfg, &sp, esc);
		free(a.buf);
		return ONLOGIN_GO;
	}
	onlogin_exec(cfg, &sp, esc, &o);
done:
	free(a.buf);
	onlogin_log(esc, &o);
	/* Detached, the session never waits for the program's verdict. */
	if (!cfg->onlogin_wait)
		return ONLOGIN_GO;
	return onlogin_decide(cfg, &o);
}
