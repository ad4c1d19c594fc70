/*
 * pop3d -R (recover.c): finishes every interrupted mbox commit recorded
 * in state-dir, then exits; for a boot-time oneshot unit ordered before
 * the MDAs (contrib/systemd/pop3d-recover.service).
 */
#ifndef POP3D_RECOVER_H
#define POP3D_RECOVER_H

#include "config.h"

/* 0 when every record was finished (or there was none), 1 otherwise. */
int	recover_all(const struct config *);

#endif
