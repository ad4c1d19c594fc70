/*
 * Logging: syslog facility mail, ident "pop3d", with the pid (pop3d(8)
 * "LOGS"); -d copies every line to stderr.  Strings that came from the
 * client or from a file reach a log only through log_escape().
 */
#ifndef POP3D_LOG_H
#define POP3D_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define PRINTF(f, a)	__attribute__((format(printf, f, a)))

void	log_init(int to_stderr);
int	log_to_stderr(void);
void	log_info(const char *, ...) PRINTF(1, 2);
void	log_notice(const char *, ...) PRINTF(1, 2);
void	log_warnx(const char *, ...) PRINTF(1, 2);
/* log_warn appends ": strerror(errno)". */
void	log_warn(const char *, ...) PRINTF(1, 2);
void	fatal(const char *, ...) PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) PRINTF(1, 2) __attribute__((noreturn));

/*
 * Copies s into buf (at most len - 1 bytes and a NUL), turning control
 * bytes, 8-bit bytes, backslash and space-less oddities into \xNN so that
 * a log line can never be split or forged.  Returns buf.
 */
char	*log_escape(const char *s, size_t slen, char *buf, size_t len);

#endif
