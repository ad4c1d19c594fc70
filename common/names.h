/*
 * Login names are checked before any path, argv, lookup or log line is
 * built from them (DESIGN.md "What is never trusted").
 */
#ifndef POP3D_NAMES_H
#define POP3D_NAMES_H

#include <stddef.h>

/* Longest login name accepted, in octets (local@domain). */
#define NAME_MAX_LEN	128

/*
 * A name is 1..NAME_MAX_LEN octets of [A-Za-z0-9._+=-] with at most one
 * '@'; the local part and the domain (if any) are non-empty, start with a
 * letter, digit or '_', and contain no "..".  Returns 1 if valid, else 0.
 */
int	name_valid(const char *name, size_t len);

#endif
