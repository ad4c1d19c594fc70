/*
 * pop3d: one POP3 session on descriptors 0 and 1, then exit.
 *
 * Who runs what (read this first when reviewing security):
 *
 *   root        main(): normalises descriptors, environment and limits,
 *               reads the configuration; privsep.c: forks the pre-auth
 *               child, reads only fixed-size credential messages from it,
 *               asks the auth backends (shadow, PAM, users file), then
 *               expands the maildrop path and drops to the mail user.
 *               Root parses no network byte.
 *   pre-auth    privsep.c preauth_child(): privsep-user (or nobody),
 *               chrooted to privsep-dir, no_new_privs.  Runs the
 *               AUTHORIZATION state (session/authorization.c, sasl.c):
 *               every byte the client sends before login.
 *   mail user   session/transaction.c and maildrop/: the user's uid, gid
 *               and groups, set before the maildrop is opened; runs the
 *               TRANSACTION and UPDATE states.
 *
 * Started by another user than root, the same processes run without the
 * chroot and switches, and only that user's own mail can be served.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "build_config.h"
#include "confcheck.h"
#include "config.h"
#include "log.h"
#include "maildrop.h"
#include "onlogin.h"
#include "priv.h"
#include "privsep.h"
#include "recover.h"
#include "session.h"
#include "statedir.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/pop3d.conf"
#define MAX_OVERRIDES	64

struct options {
	const char	*file;
	int		 file_given;
	int		 debug;
	int		 test;
	int		 recover;
	char		*overrides[MAX_OVERRIDES];
	size_t		 noverrides;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pop3d [-d] [-f file] [-o key=value]...\n"
	    "       pop3d -t [-f file] [-o key=value]...\n"
	    "       pop3d -R [-f file] [-o key=value]...\n"
	    "       pop3d -V\n");
	exit(1);
}

static void
print_version(void)
{
	printf("pop3d %s\n", POP3D_VERSION);
	printf("auth backends:%s%s%s\n", WITH_AUTH_FILE ? " file" : "",
	    WITH_AUTH_UNIX ? " unix" : "", WITH_AUTH_PAM ? " pam" : "");
	printf("maildrop formats:%s%s\n", WITH_MAILDROP_MBOX ? " mbox" : "",
	    WITH_MAILDROP_MAILDIR ? " maildir" : "");
	printf("features:%s sasl apop%s\n", WITH_AUTH_PAM ? " pam" : "",
	    WITH_TLS ? " tls" : "");
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int	 ch;

	memset(o, 0, sizeof(*o));
	o->file = DEFAULT_CONFIG;
	while ((ch = getopt(argc, argv, "df:o:RtV")) != -1) {
		switch (ch) {
		case 'd':
			o->debug = 1;
			break;
		case 'f':
			o->file = optarg;
			o->file_given = 1;
			break;
		case 'o':
			if (o->noverrides == MAX_OVERRIDES)
				usage();
			o->overrides[o->noverrides++] = optarg;
			break;
		case 'R':
			o->recover = 1;
			break;
		case 't':
			o->test = 1;
			break;
		case 'V':
			print_version();
			exit(0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
}

/*
 * Whatever state inetd, a test harness or an attacker left us in
 * (DESIGN.md "What is never trusted"): descriptors 0-2 open, nothing
 * else inherited, a known environment, no core dumps that could hold a
 * password.
 */
static void
normalise_process(void)
{
	struct rlimit	 rl = { 0, 0 };
	int		 fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
	closefrom(3);
	if (clearenv() != 0 || setenv("PATH", "/usr/bin:/bin", 1) != 0)
		exit(1);
	umask(077);
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)signal(SIGPIPE, SIG_IGN);
}

/* The two ends of the client connection, as text for logs and onlogin. */
struct endpoints {
	char	 client_addr[INET6_ADDRSTRLEN];
	char	 client_port[8];
	char	 server_addr[INET6_ADDRSTRLEN];
	char	 server_port[8];
};

static void
endpoint_text(int peer, char *addr, size_t alen, char *port, size_t plen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	const void		*a = NULL;
	unsigned		 p = 0;
	int			 r;

	strlcpy(addr, "local", alen);
	port[0] = '\0';
	r = peer ? getpeername(0, (struct sockaddr *)&ss, &sl) :
	    getsockname(0, (struct sockaddr *)&ss, &sl);
	if (r == -1)
		return;
	if (ss.ss_family == AF_INET) {
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (a == NULL || inet_ntop(ss.ss_family, a, addr, (socklen_t)alen) ==
	    NULL) {
		strlcpy(addr, "local", alen);
		return;
	}
	snprintf(port, plen, "%u", p);
}

/*
 * A per-session nonce made by root before the pre-auth child exists.  The
 * APOP timestamp (RFC 1939 §7) is <NONCE@host>, and every CRAM-MD5
 * challenge must start with <NONCE., so that a compromised child cannot
 * replay an exchange captured from another session.
 */
static void
make_nonce(char *nonce, size_t nlen, char *stamp, size_t slen,
    const char *host)
{
	int	 n;

	n = snprintf(nonce, nlen, "%ld.%u.%lld", (long)getpid(),
	    arc4random(), (long long)time(NULL));
	if (n < 0 || (size_t)n >= nlen)
		fatalx("nonce too long");
	n = snprintf(stamp, slen, "<%s@%s>", nonce, host);
	if (n < 0 || (size_t)n >= slen)
		fatalx("APOP timestamp too long");
}

static void
session_setup(const struct config *cfg, struct session *s,
    struct endpoints *ep, char *host, size_t hostlen, char *stamp,
    size_t stamplen)
{
	int	 plain;

	memset(s, 0, sizeof(*s));
	io_init(&s->io, 0, 1, (int)cfg->timeout);
	s->cfg = cfg;
	endpoint_text(1, ep->client_addr, sizeof(ep->client_addr),
	    ep->client_port, sizeof(ep->client_port));
	endpoint_text(0, ep->server_addr, sizeof(ep->server_addr),
	    ep->server_port, sizeof(ep->server_port));
	s->client_addr = ep->client_addr;
	s->client_port = ep->client_port;
	s->server_addr = ep->server_addr;
	s->server_port = ep->server_port;
	if (gethostname(host, hostlen) == -1 || host[0] == '\0')
		strlcpy(host, "localhost", hostlen);
	s->hostname = host;
	/* Asked only when needed: it may read the whole users file. */
	plain = ((cfg->sasl & SASL_CRAM_MD5) || cfg->apop) &&
	    auth_has_plain_secrets(cfg);
	if (cfg->sasl & SASL_PLAIN)
		s->sasl_offered |= SASL_PLAIN;
	if ((cfg->sasl & SASL_CRAM_MD5) && plain)
		s->sasl_offered |= SASL_CRAM_MD5;
	make_nonce(s->nonce, sizeof(s->nonce), stamp, stamplen, host);
	if (cfg->apop && plain)
		s->apop_stamp = stamp;
}

/* Does the backend that let this user in have something to close as root? */
static int
backend_needs_end(const struct auth_user *user)
{
	const struct auth_backend *b;
	int	 k;

	for (k = 0; k < AUTH_KINDS; k++) {
		b = auth_backend((enum auth_kind)k);
		if (b != NULL && b->end != NULL && user->backend != NULL &&
		    strcmp(b->name, user->backend) == 0)
			return 1;
	}
	return 0;
}

/* A PAM session must be closed by root: keep a root parent waiting. */
static void
keep_root_parent(void)
{
	pid_t	 pid;
	int	 fd, status;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		return;
	/* Root keeps no handle on the client: only the user's process. */
	if ((fd = open("/dev/null", O_RDWR)) == -1 || dup2(fd, 0) == -1 ||
	    dup2(fd, 1) == -1)
		fatal("/dev/null");
	if (fd > 2)
		close(fd);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	auth_end();
	exit(0);
}

/* pop3d.conf(5): after authentication, before the maildrop is opened. */
static enum onlogin_result
run_onlogin(const struct config *cfg, const struct session *s,
    const struct auth_user *user, enum auth_method method,
    const struct maildrop_ops *ops, const char *path, const char *statedir)
{
	struct onlogin_info	 oi;
	char			 spec[PATH_MAX + 16];
	int			 n;

	n = snprintf(spec, sizeof(spec), "%s:%s", ops->name, path);
	if (n < 0 || (size_t)n >= sizeof(spec))
		return ONLOGIN_DENY_TEMP;
	memset(&oi, 0, sizeof(oi));
	oi.user = user->name;
	oi.home = user->home;
	oi.maildrop = spec;
	oi.state_dir = statedir;
	oi.uid = user->uid;
	oi.gid = user->gid;
	oi.system_user = user->system_user;
	oi.client_addr = s->client_addr;
	oi.client_port = s->client_port;
	oi.server_addr = s->server_addr;
	oi.server_port = s->server_port;
	oi.method = auth_method_name(method);
	return onlogin_run(cfg, &oi);
}

/*
 * The user's directory in state-dir, made and opened while we are still
 * root (statedir.h): the session works in it through the descriptor.
 * Without it a login cannot be served safely: [SYS/TEMP].
 */
static int
open_state(const struct config *cfg, const struct auth_user *user,
    char *dir, size_t dirlen)
{
	char	 base[PATH_MAX];
	int	 fd;
	uid_t	 uid = getuid() == 0 ? user->uid : getuid();
	gid_t	 gid = getuid() == 0 ? user->gid : getgid();

	if (statedir_base(cfg->state_dir, base, sizeof(base)) == -1 ||
	    (fd = statedir_open(base, uid, gid)) == -1) {
		log_warnx("login user=%s: no usable state-dir, not served",
		    user->name);
		return -1;
	}
	if (snprintf(dir, dirlen, "%s/%lu", base, (unsigned long)uid) >=
	    (int)dirlen) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

static int
fd_is_socket(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * The watcher: a child of the session that holds nothing of the client
 * and no lock, and waits for the session to end however it ends (the
 * pipe's other end closes with the session).  It then finishes what the
 * session left half done, at once: other readers of an mbox never see a
 * half-rewritten file for longer than the rewrite takes (docs/mbox.md
 * "Commit").  Runs as the mail user, like the session.
 */
static void
start_watcher(const struct maildrop_ops *ops, int statefd, const char *path)
{
	char	 c;
	int	 p[2], fd;
	pid_t	 pid;

	if (ops->recover == NULL)
		return;
	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		log_warn("watcher");
		return;
	}
	if (pid != 0) {
		(void)close(p[0]);
		return;		/* p[1] stays open for the session's life */
	}
	(void)close(p[1]);
	/* Nothing of the client: inetd puts the socket on fd 2 as well. */
	if ((fd = open("/dev/null", O_RDWR)) == -1 || dup2(fd, 0) == -1 ||
	    dup2(fd, 1) == -1 || (fd_is_socket(2) && dup2(fd, 2) == -1))
		_exit(1);
	if (fd > 2)
		(void)close(fd);
	while (read(p[0], &c, 1) == -1 && errno == EINTR)
		continue;
	(void)ops->recover(statefd, path);
	_exit(0);
}

static void __attribute__((noreturn))
serve(const struct config *cfg)
{
	struct session		 s;
	struct auth_user	 user;
	enum auth_method	 method;
	const struct maildrop_ops *ops;
	const char		*err;
	struct endpoints	 ep;
	char			 host[256], stamp[512];
	char			 path[PATH_MAX], statedir[PATH_MAX];
	int			 statefd;

	session_setup(cfg, &s, &ep, host, sizeof(host), stamp, sizeof(stamp));
	log_info("connect from %s", ep.client_addr);
	privsep_login(cfg, &s, &user, &method);
	if (maildrop_expand(user.maildrop[0] ? user.maildrop : cfg->maildrop,
	    user.name, user.home, &ops, path, sizeof(path), &err) == -1) {
		log_warnx("maildrop for user=%s: %s", user.name, err);
		session_reply(&s, RP_CONFIG);
		(void)io_flush(&s.io);
		exit(1);
	}
	if ((statefd = open_state(cfg, &user, statedir,
	    sizeof(statedir))) == -1) {
		session_reply(&s, RP_MD_TEMP);
		(void)io_flush(&s.io);
		exit(1);
	}
	if (run_onlogin(cfg, &s, &user, method, ops, path, statedir) !=
	    ONLOGIN_GO) {
		session_reply(&s, RP_ONLOGIN);
		(void)io_flush(&s.io);
		exit(1);
	}
	if (getuid() == 0) {
		if (backend_needs_end(&user))
			keep_root_parent();
		if (priv_drop(user.uid, user.gid,
		    user.system_user ? user.name : NULL) == -1) {
			session_reply(&s, RP_INTERNAL);
			(void)io_flush(&s.io);
			exit(1);
		}
	}
	start_watcher(ops, statefd, path);
	transaction_run(&s, &user, ops, path, statefd);
	exit(0);
}

/* With a bad configuration the client still gets a clear answer. */
static void __attribute__((noreturn))
refuse_client(void)
{
	static const char msg[] = "-ERR [SYS/PERM] Server configuration error\r\n";

	if (write(1, msg, sizeof(msg) - 1) == -1)
		exit(1);
	exit(1);
}

int
main(int argc, char **argv)
{
	struct options	 o;
	struct config	 cfg;
	int		 problems;

	normalise_process();
	parse_options(argc, argv, &o);
	log_init(o.debug || o.test || o.recover);
	config_set_maildrop_check(confcheck_maildrop);
	config_defaults(&cfg);
	problems = config_load(&cfg, o.file, o.file_given, o.overrides,
	    o.noverrides);
	if (problems == 0)
		problems = confcheck_run(&cfg, o.test);
	if (o.test)
		problems += privsep_check(&cfg);
	if (o.test) {
		if (problems == 0)
			fprintf(stderr, "configuration OK\n");
		config_free(&cfg);
		return problems == 0 ? 0 : 1;
	}
	if (o.recover) {
		problems = problems != 0 ? 1 : recover_all(&cfg);
		config_free(&cfg);
		return problems;
	}
	if (problems != 0)
		refuse_client();
	serve(&cfg);
}
