/* Readiness and status notifications to systemd. */
#include <stdio.h>

#include "ais_config.h"

#if AIS_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

void notify_ready(const char *status)
{
#if AIS_HAVE_SYSTEMD
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
#else
	(void)status;
#endif
}

void notify_stopping(void)
{
#if AIS_HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1\nSTATUS=draining requests");
#endif
}
