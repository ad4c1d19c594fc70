/*
 * The glue between configuration and the maildrop formats: the table of
 * formats built in, and the expansion of the `maildrop` key (pop3d.conf(5)
 * "Maildrops") into a format and an absolute path.
 */
#include <stddef.h>
#include <string.h>

#include "build_config.h"
#include "maildrop.h"

#if WITH_MAILDROP_MBOX
extern const struct maildrop_ops mbox_ops;
#endif
#if WITH_MAILDROP_MAILDIR
extern const struct maildrop_ops maildir_ops;
#endif

/*
 * Every format pop3d knows, built or not: a format left out of the build
 * is named in the error, so that `pop3d -t` says "not built in" rather
 * than "unknown".  Meson decides which rows have ops (-Dmaildrop, README.md
 * "Building").
 */
static const struct maildrop_format {
	const char			*name;
	const struct maildrop_ops	*ops;
	const char			*missing;
} maildrop_formats[] = {
#if WITH_MAILDROP_MBOX
	{ "mbox", &mbox_ops, NULL },
#else
	{ "mbox", NULL, "maildrop format 'mbox' is not built in" },
#endif
#if WITH_MAILDROP_MAILDIR
	{ "maildir", &maildir_ops, NULL },
#else
	{ "maildir", NULL, "maildrop format 'maildir' is not built in" },
#endif
};

#define MAILDROP_NFORMATS \
	(sizeof(maildrop_formats) / sizeof(maildrop_formats[0]))

static const struct maildrop_format *
maildrop_find(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < MAILDROP_NFORMATS; i++)
		if (strlen(maildrop_formats[i].name) == len &&
		    memcmp(maildrop_formats[i].name, name, len) == 0)
			return &maildrop_formats[i];
	return NULL;
}

const struct maildrop_ops *
maildrop_format(const char *name, size_t len)
{
	const struct maildrop_format *f = maildrop_find(name, len);

	return f == NULL ? NULL : f->ops;
}

/* Output buffer for the expansion; `over` is set once it has overflowed. */
struct maildrop_buf {
	char	*p;
	size_t	 len;
	size_t	 used;
	int	 over;
};

static void
maildrop_put(struct maildrop_buf *b, const char *s, size_t n)
{
	/* Keep one octet for the NUL. */
	if (b->over || n >= b->len - b->used) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->used, s, n);
	b->used += n;
}

/*
 * Whether the path has a "." or ".." component.  Such a path is never
 * what an administrator meant, and with a home directory or name that
 * holds one it could walk out of the place the template names.
 */
static int
maildrop_dotted(const char *p)
{
	const char	*c;

	for (c = p; (c = strchr(c, '/')) != NULL; c++) {
		if (c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
			return 1;
		if (c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0'))
			return 1;
	}
	return 0;
}

/* One %-escape; returns 0, or -1 with *err set. */
static int
maildrop_escape(struct maildrop_buf *b, char c, const char *user,
    const char *home, const char **err)
{
	const char	*at = strchr(user, '@');

	switch (c) {
	case 'u':
		maildrop_put(b, user, strlen(user));
		break;
	case 'l':
		maildrop_put(b, user, at ? (size_t)(at - user) : strlen(user));
		break;
	case 'd':
		if (at != NULL)
			maildrop_put(b, at + 1, strlen(at + 1));
		break;
	case 'h':
		if (home == NULL || *home == '\0') {
			*err = "maildrop path uses %h but the home directory "
			    "is empty";
			return -1;
		}
		maildrop_put(b, home, strlen(home));
		break;
	case '%':
		maildrop_put(b, "%", 1);
		break;
	default:
		*err = "maildrop path has an unknown %-escape";
		return -1;
	}
	return 0;
}

int
maildrop_expand(const char *spec, const char *user, const char *home,
    const struct maildrop_ops **ops, char *path, size_t pathlen,
    const char **err)
{
	const struct maildrop_format *f;
	struct maildrop_buf b = { path, pathlen, 0, 0 };
	const char	*colon, *s;
	size_t		 hl;

	if ((colon = strchr(spec, ':')) == NULL) {
		*err = "maildrop must be FORMAT:PATH";
		return -1;
	}
	if ((f = maildrop_find(spec, (size_t)(colon - spec))) == NULL) {
		*err = "unknown maildrop format";
		return -1;
	}
	if (f->ops == NULL) {
		*err = f->missing;
		return -1;
	}
	if (pathlen == 0) {
		*err = "maildrop path too long";
		return -1;
	}
	s = colon + 1;
	if (s[0] == '~' && s[1] == '/') {
		if (home == NULL || *home == '\0') {
			*err = "maildrop path uses ~/ but the home directory "
			    "is empty";
			return -1;
		}
		/* "~/x" with home "/home/a/" is "/home/a/x", not "...//x". */
		for (hl = strlen(home); hl > 1 && home[hl - 1] == '/'; hl--)
			continue;
		if (!(hl == 1 && home[0] == '/'))
			maildrop_put(&b, home, hl);
		s++;
	}
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			maildrop_put(&b, s, 1);
			continue;
		}
		/* A lone '%' at the end reaches the default case. */
		if (maildrop_escape(&b, *++s, user, home, err) == -1)
			return -1;
	}
	if (b.over) {
		*err = "maildrop path too long";
		return -1;
	}
	path[b.used] = '\0';
	if (path[0] != '/') {
		*err = "maildrop path is not absolute";
		return -1;
	}
	if (maildrop_dotted(path)) {
		*err = "maildrop path has a '.' or '..' component";
		return -1;
	}
	*ops = f->ops;
	return 0;
}
