/* The progress line of long transfers and the summary line. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "util.h"

#define TICK_MS	    250
#define RATE_WINDOW 8 /* ticks: the shown rate is over the last 2 s */
#define BAR_WIDTH   16

struct progress {
	char verb[16];
	uint64_t start_ns;
	_Atomic uint64_t files_total;
	_Atomic uint64_t bytes_total;
	_Atomic uint64_t files_done;
	_Atomic uint64_t files_failed;
	_Atomic int64_t bytes_done;
	atomic_bool total_final;

	bool thread_running;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stop and its condition */
	pthread_cond_t cond;
	bool stop;

	/* Rate window, touched only by the redraw thread. */
	uint64_t win_ns[RATE_WINDOW];
	int64_t win_bytes[RATE_WINDOW];
	unsigned win_n;
};

/* Serializes stderr between the redraw thread and error reports. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static bool line_shown; /* a progress line is on the terminal; out_lock */

void progress_out_lock(void)
{
	pthread_mutex_lock(&out_lock);
	if (line_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		line_shown = false;
	}
}

void progress_out_unlock(void)
{
	pthread_mutex_unlock(&out_lock);
}

static unsigned term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

static void fmt_eta(uint64_t s, char *buf, size_t len)
{
	if (s >= 100 * 3600)
		snprintf(buf, len, "--:--");
	else if (s >= 3600)
		snprintf(buf, len, "%u:%02u:%02u", (unsigned)(s / 3600),
			 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
	else
		snprintf(buf, len, "%u:%02u", (unsigned)(s / 60),
			 (unsigned)(s % 60));
}

static void draw(struct progress *p)
{
	uint64_t now = ais_now_mono_ns();
	uint64_t ftot = atomic_load(&p->files_total);
	uint64_t btot = atomic_load(&p->bytes_total);
	uint64_t fdone = atomic_load(&p->files_done);
	int64_t bdone_s = atomic_load(&p->bytes_done);
	uint64_t bdone = bdone_s > 0 ? (uint64_t)bdone_s : 0;
	bool final = atomic_load(&p->total_final);
	unsigned slot = p->win_n % RATE_WINDOW, oldest;
	char line[512], done_s[32], tot_s[32], rate_s[32], eta_s[16];
	uint64_t rate = 0;
	int n;

	p->win_ns[slot] = now;
	p->win_bytes[slot] = bdone_s;
	p->win_n++;
	oldest = p->win_n > RATE_WINDOW ? p->win_n % RATE_WINDOW : 0;
	if (p->win_n == 1 && now > p->start_ns && bdone_s > 0) {
		/* First tick: the average since the start. */
		rate = (uint64_t)((double)bdone_s * 1e9 /
				  (double)(now - p->start_ns));
	} else if (p->win_n > 1 && now > p->win_ns[oldest]) {
		int64_t db = bdone_s - p->win_bytes[oldest];

		if (db > 0)
			rate = (uint64_t)((double)db * 1e9 /
					  (double)(now - p->win_ns[oldest]));
	}

	ais_format_size(bdone, done_s, sizeof(done_s));
	ais_format_size(btot, tot_s, sizeof(tot_s));
	ais_format_size(rate, rate_s, sizeof(rate_s));
	if (final) {
		char bar[BAR_WIDTH + 1];
		double frac = btot ? (double)bdone / (double)btot
				   : (ftot ? (double)fdone / (double)ftot : 1);
		unsigned fill;

		if (frac > 1)
			frac = 1;
		fill = (unsigned)(frac * BAR_WIDTH);
		memset(bar, '#', fill);
		memset(bar + fill, '.', BAR_WIDTH - fill);
		bar[BAR_WIDTH] = '\0';
		if (rate > 0 && btot > bdone)
			fmt_eta((btot - bdone) / rate, eta_s, sizeof(eta_s));
		else
			snprintf(eta_s, sizeof(eta_s), "--:--");
		n = snprintf(line, sizeof(line),
			     "%s [%s] %llu/%llu files %s/%s %s/s ETA %s",
			     p->verb, bar, (unsigned long long)fdone,
			     (unsigned long long)ftot, done_s, tot_s, rate_s,
			     eta_s);
	} else {
		n = snprintf(line, sizeof(line),
			     "%s %llu/%llu+ files %s/%s+ %s/s", p->verb,
			     (unsigned long long)fdone,
			     (unsigned long long)ftot, done_s, tot_s, rate_s);
	}
	if (n < 0)
		return;
	/* Never wrap: a wrapped line cannot be erased with \r. */
	unsigned w = term_width() - 1;
	if ((unsigned)n > w)
		line[w] = '\0';

	pthread_mutex_lock(&out_lock);
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	line_shown = true;
	pthread_mutex_unlock(&out_lock);
}

static void *redraw_main(void *arg)
{
	struct progress *p = arg;
	struct timespec ts;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		draw(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct progress *progress_new(const char *verb, bool show)
{
	struct progress *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return NULL;
	snprintf(p->verb, sizeof(p->verb), "%s", verb);
	p->start_ns = ais_now_mono_ns();
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (show && isatty(STDERR_FILENO)) {
		/* Without a thread there is simply no progress line. */
		if (pthread_create(&p->thread, NULL, redraw_main, p) == 0)
			p->thread_running = true;
	}
	return p;
}

void progress_stop(struct progress *p)
{
	if (!p || !p->thread_running)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->thread_running = false;
	progress_out_lock(); /* erases the line */
	progress_out_unlock();
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	progress_stop(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void progress_add_total(struct progress *p, uint64_t files, uint64_t bytes)
{
	if (!p)
		return;
	atomic_fetch_add(&p->files_total, files);
	atomic_fetch_add(&p->bytes_total, bytes);
}

void progress_total_final(struct progress *p)
{
	if (!p)
		return;
	atomic_store(&p->total_final, true);
}

void progress_add_bytes(struct progress *p, int64_t bytes)
{
	if (p)
		atomic_fetch_add(&p->bytes_done, bytes);
}

void progress_file_done(struct progress *p, bool ok)
{
	if (!p)
		return;
	atomic_fetch_add(&p->files_done, 1);
	if (!ok)
		atomic_fetch_add(&p->files_failed, 1);
}

uint64_t progress_failed(const struct progress *p)
{
	return atomic_load(&p->files_failed);
}

uint64_t progress_done(const struct progress *p)
{
	return atomic_load(&p->files_done);
}

void progress_summary(struct progress *p, FILE *out)
{
	uint64_t ns = ais_now_mono_ns() - p->start_ns;
	uint64_t done = atomic_load(&p->files_done);
	uint64_t failed = atomic_load(&p->files_failed);
	int64_t b = atomic_load(&p->bytes_done);
	uint64_t bytes = b > 0 ? (uint64_t)b : 0;
	char size_s[32], rate_s[40];

	ais_format_size(bytes, size_s, sizeof(size_s));
	cli_format_rate(bytes, ns, rate_s, sizeof(rate_s));
	if (!strcmp(p->verb, "rm"))
		fprintf(out, "rm %llu object%s (%s) in %.1f s",
			(unsigned long long)(done - failed),
			done - failed == 1 ? "" : "s", size_s,
			(double)ns / 1e9);
	else
		fprintf(out, "%s %llu object%s, %s in %.1f s (%s)", p->verb,
			(unsigned long long)(done - failed),
			done - failed == 1 ? "" : "s", size_s, (double)ns / 1e9,
			rate_s);
	if (failed)
		fprintf(out, "; %llu failed", (unsigned long long)failed);
	fputc('\n', out);
	fflush(out);
}
