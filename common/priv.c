#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static int
priv_check(uid_t uid, gid_t gid, int only_gid)
{
	uid_t	 ru, eu, su;
	gid_t	 rg, eg, sg, groups[2];
	int	 n;

	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return -1;
	if (ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid)
		return -1;
	if (only_gid) {
		n = getgroups(2, groups);
		if (n != 1 || groups[0] != gid)
			return -1;
	}
	/* The point of it all: root must be gone for good. */
	if (uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return -1;
	return 0;
}

int
priv_drop(uid_t uid, gid_t gid, const char *name)
{
	if (geteuid() == 0) {
		if (name != NULL ? initgroups(name, gid) == -1 :
		    setgroups(1, &gid) == -1) {
			log_warn("%s: setting groups", __func__);
			return -1;
		}
	}
	if (setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1) {
		log_warn("%s: switching to uid %lu gid %lu", __func__,
		    (unsigned long)uid, (unsigned long)gid);
		return -1;
	}
	if (priv_check(uid, gid, name == NULL) == -1) {
		log_warnx("%s: uid %lu gid %lu not fully dropped", __func__,
		    (unsigned long)uid, (unsigned long)gid);
		return -1;
	}
	return 0;
}
