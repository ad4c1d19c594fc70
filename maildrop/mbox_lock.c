/*
 * mbox locking (docs/mbox.md "Locking").  The session lock, which keeps a
 * second POP3 session out, is the state directory's, the same for both
 * formats (maildrop_session.c).  The MDA-visible locks, a liblockfile
 * dotlock then a fcntl(2) lock, are mda_lock.c's, shared with
 * bulletin(8).  They are held only while the file is scanned at login
 * and while the commit runs at QUIT, never while the client talks.
 */
#include "mbox.h"

enum md_status
mbox_lock(struct mbox *mb, short type)
{
	mb->mda.fd = mb->fd;
	return mda_lock(&mb->mda, type) == 0 ? MD_OK : MD_TEMP;
}

void
mbox_lock_touch(struct mbox *mb)
{
	mda_lock_touch(&mb->mda);
}

void
mbox_unlock(struct mbox *mb)
{
	mda_unlock(&mb->mda);
}
