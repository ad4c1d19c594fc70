/*
 * The formats of bulletin(8): bulletin_maildir.c and bulletin_mbox.c.
 */
#ifndef BULLETIN_FORMAT_H
#define BULLETIN_FORMAT_H

#include "bulletin.h"
#include "bulletin_record.h"

/*
 * The formats.  deliver() brings the bulletin to the maildrop exactly
 * once, given the pending entry a killed run left (or NULL), and writes
 * the record's "done" line.  The bulletin is NULL when it was removed
 * from DIR since: the pending entry is only repaired.  Returns 1 when
 * it delivered, 0 when the bulletin was there already (or cannot be
 * told to be absent), -1 on error (bulletin_error() called).
 */
int	bulletin_maildir_deliver(const char *path, struct record *,
	    const struct bulletin *, const struct pending *);
int	bulletin_mbox_deliver(const char *path, struct record *,
	    const struct bulletin *, const struct pending *);

#endif
