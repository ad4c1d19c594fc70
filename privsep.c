/*
 * The privilege boundary (DESIGN.md "Privilege flow"; popa3d's model).
 *
 *   root parent                        pre-auth child
 *   -----------                        --------------
 *   fork ---------------------------->  chroot(privsep-dir), drop to
 *                                       privsep-user, no_new_privs;
 *                                       greeting, CAPA, USER, PASS ...
 *   read struct cred_msg  <-----------  fixed-size message
 *   check lengths, auth_check(),
 *   fail-delay on failure
 *   struct cred_answer    ------------> "-ERR [AUTH] ..." or hand over:
 *   read struct handoff_msg <---------  bytes pipelined after the login
 *   waitpid                             exit
 *
 * The root side reads nothing from the network and nothing from the child
 * but those two fixed-size structures, whose every length it checks.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "privsep.h"
#include "privsep_msg.h"
#include "xio.h"

static const char *const method_names[] = {
	[AUTH_METHOD_USER] = "USER",
	[AUTH_METHOD_APOP] = "APOP",
	[AUTH_METHOD_PLAIN] = "SASL-PLAIN",
	[AUTH_METHOD_CRAM_MD5] = "SASL-CRAM-MD5",
};

const char *
auth_method_name(enum auth_method m)
{
	return (unsigned)m <= AUTH_METHOD_CRAM_MD5 ? method_names[m] : "?";
}

/* mkdir -p for the chroot directory; it must be root's and not writable. */
static int
privsep_dir_ready(const char *dir)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	char		*p;

	if (strlcpy(path, dir, sizeof(path)) >= sizeof(path))
		return -1;
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		/* chmod: our umask is 077, and pop3d.conf(5) promises 0755. */
		if (mkdir(path, 0755) == 0)
			(void)chmod(path, 0755);
		else if (errno != EEXIST) {
			log_warn("privsep-dir: mkdir %s", path);
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		log_warnx("privsep-dir %s: must be a root-owned directory "
		    "writable only by root", dir);
		return -1;
	}
	return 0;
}

/* The pre-auth account: privsep-user, else nobody; never uid 0. */
struct passwd *
privsep_account(const struct config *cfg, int quiet)
{
	struct passwd	*pw;

	if ((pw = getpwnam(cfg->privsep_user)) == NULL) {
		if (!quiet)
			log_notice("privsep-user %s does not exist, using "
			    "nobody", cfg->privsep_user);
		pw = getpwnam("nobody");
	}
	if (pw == NULL || pw->pw_uid == 0 || pw->pw_gid == 0)
		return NULL;
	return pw;
}

int
privsep_check(const struct config *cfg)
{
	struct stat	 st;
	int		 problems = 0;

	if (getuid() != 0)
		return 0;
	if (privsep_account(cfg, 1) == NULL) {
		log_warnx("privsep-user: %s (or nobody) must exist and must "
		    "not be uid or gid 0", cfg->privsep_user);
		problems++;
	}
	if (lstat(cfg->privsep_dir, &st) == 0 && (!S_ISDIR(st.st_mode) ||
	    st.st_uid != 0 || (st.st_mode & 022) != 0)) {
		log_warnx("privsep-dir %s: must be a root-owned directory "
		    "writable only by root", cfg->privsep_dir);
		problems++;
	}
	return problems;
}

/* A confinement that fails is a configuration error the client hears of. */
static void __attribute__((noreturn))
preauth_refuse(struct session *s, const char *what)
{
	log_warnx("pre-auth process: %s", what);
	session_reply(s, RP_CONFIG);
	(void)io_flush(&s->io);
	_exit(1);
}

/* Becomes the unprivileged pre-auth process (DESIGN.md "Who runs what"). */
static void
preauth_confine(const struct config *cfg, struct session *s)
{
	struct passwd	*pw;

	if (getuid() == 0) {
		if ((pw = privsep_account(cfg, 0)) == NULL)
			preauth_refuse(s, "no unprivileged account (privsep-user)");
		if (privsep_dir_ready(cfg->privsep_dir) == -1 ||
		    chroot(cfg->privsep_dir) == -1 || chdir("/") == -1)
			preauth_refuse(s, "cannot chroot to privsep-dir");
		if (priv_drop(pw->pw_uid, pw->pw_gid, NULL) == -1)
			preauth_refuse(s, "cannot drop privileges");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		preauth_refuse(s, "prctl no_new_privs failed");
}

static void __attribute__((noreturn))
preauth_child(const struct config *cfg, struct session *s, int fd)
{
	struct handoff_msg	 h;
	const char		*pending;

	preauth_confine(cfg, s);
	s->priv_fd = fd;
	if (s->apop_stamp != NULL)
		io_printf(&s->io, "+OK %s %s\r\n", cfg->greeting, s->apop_stamp);
	else
		io_printf(&s->io, "+OK %s\r\n", cfg->greeting);
	session_run(s, authorization_commands, authorization_ncommands);
	if (s->logged_in && !s->io.failed) {
		memset(&h, 0, sizeof(h));
		h.len = (uint32_t)io_pending(&s->io, &pending);
		memcpy(h.bytes, pending, h.len);
		if (write_all(fd, &h, sizeof(h)) != sizeof(h))
			_exit(1);
		explicit_bzero(&h, sizeof(h));
	}
	_exit(0);
}

/* A field is good when its length is in bounds and matches its NUL. */
static int
field_ok(const char *f, size_t size, uint32_t len)
{
	return len < size && f[len] == '\0' && strnlen(f, size) == len;
}

static int
cred_valid(const struct cred_msg *m)
{
	return m->method <= AUTH_METHOD_CRAM_MD5 &&
	    field_ok(m->user, sizeof(m->user), m->user_len) &&
	    field_ok(m->secret, sizeof(m->secret), m->secret_len) &&
	    field_ok(m->challenge, sizeof(m->challenge), m->challenge_len);
}

/* Is this method switched on?  The child is not trusted to know. */
static int
method_allowed(const struct config *cfg, const struct session *s,
    enum auth_method m)
{
	switch (m) {
	case AUTH_METHOD_USER:
		return 1;
	case AUTH_METHOD_APOP:
		return s->apop_stamp != NULL;
	case AUTH_METHOD_PLAIN:
		return (s->sasl_offered & SASL_PLAIN) != 0;
	case AUTH_METHOD_CRAM_MD5:
		return (s->sasl_offered & SASL_CRAM_MD5) != 0;
	}
	return 0;
}

/* A CRAM-MD5 challenge must carry this session's nonce: "<NONCE." */
static int
challenge_ours(const struct session *s, const char *challenge)
{
	size_t	 n = strlen(s->nonce);

	return challenge[0] == '<' && strncmp(challenge + 1, s->nonce, n) == 0 &&
	    challenge[n + 1] == '.';
}

static enum auth_result
privsep_decide(const struct config *cfg, const struct session *s,
    struct cred_msg *m, struct auth_user *user, const char **reason)
{
	struct auth_request	 req;
	enum auth_result	 r;

	memset(&req, 0, sizeof(req));
	req.method = (enum auth_method)m->method;
	req.user = m->user;
	req.secret = m->secret;
	/* APOP's stamp is ours; the child is not trusted to repeat it. */
	req.challenge = req.method == AUTH_METHOD_APOP ? s->apop_stamp :
	    m->challenge;
	req.rhost = s->client_addr;
	if (!name_valid(m->user, m->user_len) ||
	    !method_allowed(cfg, s, req.method) ||
	    (req.method == AUTH_METHOD_CRAM_MD5 && !challenge_ours(s,
	    m->challenge))) {
		auth_backend(cfg->auth[0])->dummy(cfg, &req);
		*reason = "invalid name or method";
		return AUTH_FAIL;
	}
	r = auth_check(cfg, &req, user, reason);
	if (r == AUTH_OK && getuid() != 0 && user->uid != getuid()) {
		log_warnx("cannot serve user=%s uid=%lu: not running as root",
		    m->user, (unsigned long)user->uid);
		*reason = "foreign uid";
		r = AUTH_FAIL;
	}
	return r;
}

static void
privsep_log_failure(const struct session *s, const struct cred_msg *m,
    const char *reason)
{
	char	 esc[NAME_MAX_LEN * 4 + 1];

	log_notice("login failed user=%s addr=%s reason=%s",
	    log_escape(m->user, m->user_len, esc, sizeof(esc)),
	    s->client_addr, reason);
}

/*
 * fail-delay counts from the start of the check, not from its end: every
 * failure is answered at the same moment whatever the backend did (a
 * dummy hash, PAM's own delays, a locked account's short cut), so the
 * reply time tells nothing about why a login failed.
 */
static void
privsep_fail_wait(const struct config *cfg, const struct timespec *start)
{
	struct timespec	 until = *start;

	until.tv_sec += (time_t)cfg->fail_delay;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until,
	    NULL) == EINTR)
		;
}

static void __attribute__((noreturn))
privsep_end(pid_t child, int code)
{
	int	 status = 0;

	while (waitpid(child, &status, 0) == -1 && errno == EINTR)
		;
	if (code == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		code = 1;
	exit(code);
}

/* Serves credential messages until a login succeeds; 0 then. */
static int
privsep_serve(const struct config *cfg, struct session *s, int fd,
    pid_t child, struct auth_user *user, enum auth_method *method)
{
	struct cred_msg		 m;
	struct cred_answer	 ans;
	const char		*reason;
	struct timespec		 start;
	long long		 failures = 0;

	for (;;) {
		if (read_full(fd, &m, sizeof(m)) != sizeof(m))
			privsep_end(child, 0);
		if (!cred_valid(&m)) {
			log_warnx("malformed message from the pre-auth process");
			kill(child, SIGKILL);
			privsep_end(child, 1);
		}
		memset(&ans, 0, sizeof(ans));
		reason = "unknown";
		(void)clock_gettime(CLOCK_MONOTONIC, &start);
		if (privsep_decide(cfg, s, &m, user, &reason) == AUTH_OK) {
			*method = (enum auth_method)m.method;
			explicit_bzero(&m, sizeof(m));
			log_info("login ok user=%s addr=%s method=%s",
			    user->name, s->client_addr,
			    auth_method_name(*method));
			ans.ok = 1;
			return write_all(fd, &ans, sizeof(ans)) == sizeof(ans) ?
			    0 : -1;
		}
		privsep_log_failure(s, &m, reason);
		explicit_bzero(&m, sizeof(m));
		/* Slow guessing down (fail-delay); the child waits too. */
		privsep_fail_wait(cfg, &start);
		ans.close = ++failures >= cfg->max_failures;
		if (write_all(fd, &ans, sizeof(ans)) != sizeof(ans) || ans.close)
			privsep_end(child, 0);
	}
}

int
privsep_login(const struct config *cfg, struct session *s,
    struct auth_user *user, enum auth_method *method)
{
	struct handoff_msg	 h;
	int			 sp[2], status;
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sp[0]);
		preauth_child(cfg, s, sp[1]);
	}
	close(sp[1]);
	if (privsep_serve(cfg, s, sp[0], pid, user, method) == -1 ||
	    read_full(sp[0], &h, sizeof(h)) != sizeof(h) ||
	    h.len > sizeof(h.bytes))
		privsep_end(pid, 1);
	close(sp[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	if (io_preload(&s->io, h.bytes, h.len) == -1)
		fatalx("handoff too large");
	explicit_bzero(&h, sizeof(h));
	return 0;
}
