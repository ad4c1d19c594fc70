/*
 * maildir_file.c: per-message file access for maildir.c -- the exact
 * size, the byte range for RETR/TOP, and a message an IMAP server moved.
 * Only maildir.c and maildir_file.c include it.
 */
#ifndef POP3D_MAILDIR_FILE_H
#define POP3D_MAILDIR_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "maildir_priv.h"
#include "maildrop.h"

enum md_status	maildir_file_size(struct maildrop *, size_t, uint64_t *);
enum md_status	maildir_file_source(struct maildrop *, size_t,
		    struct md_source *);
/* The verify hook (maildrop.h): exactly the announced size, no more. */
int		maildir_file_verify(struct maildrop *, size_t, const void *,
		    size_t);
/* Finds a vanished message again in cur/; 0 if the record was updated. */
int		maildir_file_relocate(struct maildir *, size_t);
void		maildir_file_free_moved(struct maildir_curlist *);

#endif
