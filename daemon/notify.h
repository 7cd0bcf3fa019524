/* Readiness and status notifications to systemd (sd_notify); no-ops when
 * built without libsystemd or not started by systemd. */
#ifndef AISD_NOTIFY_H
#define AISD_NOTIFY_H

/* READY=1 with a STATUS= line. */
void notify_ready(const char *status);
void notify_stopping(void);

#endif
