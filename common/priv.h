/*
 * Dropping privileges, the one way (DESIGN.md "Who runs what"): groups, then
 * setresgid, then setresuid, then a check that root cannot come back.
 */
#ifndef POP3D_PRIV_H
#define POP3D_PRIV_H

#include <sys/types.h>

/*
 * Becomes uid/gid for good.  Supplementary groups: initgroups(name) when
 * name is not NULL (system users), else only gid.  Returns 0, or -1 after
 * logging why; the caller must then end the process.
 */
int	priv_drop(uid_t uid, gid_t gid, const char *name);

#endif
