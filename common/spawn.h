/*
 * The one fork+exec of the project (DESIGN.md "The onlogin program";
 * docs/onlogin.md "The contract").  Everything that starts another program goes
 * through spawn_start(), so that one function is audited for what the
 * program inherits: identity, descriptors, signals, session, environment.
 */
#ifndef POP3D_SPAWN_H
#define POP3D_SPAWN_H

#include <sys/types.h>

struct spawn {
	const char	*path;		/* absolute; never looked up in PATH */
	char *const	*argv;		/* argv[0] included, NULL-terminated */
	char *const	*envp;		/* the whole environment */
	/*
	 * Become uid/gid before exec.  Done only when running as root;
	 * otherwise the program runs as the caller.  Supplementary groups:
	 * initgroups(groups_of) when not NULL, else gid alone.
	 */
	int		 switch_user;
	uid_t		 uid;
	gid_t		 gid;
	const char	*groups_of;
	int		 stderr_fd;	/* the program's fd 2; -1: /dev/null */
};

/* Why a start failed, in spawn_error.stage. */
enum spawn_stage {
	SPAWN_OK = 0,
	SPAWN_FORK,		/* pipe or fork in the caller */
	SPAWN_IDENTITY,		/* groups, gid, uid, or root came back */
	SPAWN_DESCRIPTORS,	/* /dev/null, dup2 */
	SPAWN_SESSION,		/* setsid, chdir */
	SPAWN_EXEC,		/* execve itself */
};

/*
 * Starts sp->path in a child that:
 *   - has switched user (setgroups/initgroups, setresgid, setresuid
 *     through priv_drop(), which then checks that root cannot come back);
 *   - has fd 0 on /dev/null, fd 1 on a pipe whose read end is returned
 *     in *outfd (O_CLOEXEC | O_NONBLOCK; /dev/null when outfd is NULL),
 *     fd 2 on sp->stderr_fd or /dev/null, and no other descriptor;
 *   - leads a new session and process group (its pid), so that the
 *     whole group can be killed;
 *   - has every signal at its default disposition and an empty mask;
 *   - has umask 077, cwd "/", and exactly sp->envp as environment.
 * Returns the pid once the program has been exec'ed (the child reports a
 * failure before exec through a close-on-exec pipe, so a missing or
 * non-executable program is known here, not by a later exit status).
 * On failure returns -1, the child already reaped, *stage and errno
 * saying what failed, for the caller to log.
 */
pid_t	spawn_start(const struct spawn *sp, int *outfd, enum spawn_stage *stage);

/* Text for a stage, for log lines: "execve", "switching user", ... */
const char *spawn_stage_name(enum spawn_stage);

#endif
