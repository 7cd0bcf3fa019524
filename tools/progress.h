/* The progress line of long transfers (files done/total, bytes, rate, ETA),
 * drawn on stderr only when it is a terminal, and the summary line. */
#ifndef AIS_TOOLS_PROGRESS_H
#define AIS_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct progress;

/* Starts counting for verb ("put", "get", "rm"). When show is true and
 * stderr is a tty, a thread redraws the line four times a second. Returns
 * NULL on ENOMEM. Free with progress_free. All counters are thread-safe and
 * accept a NULL progress (nothing is counted). */
struct progress *progress_new(const char *verb, bool show);
void progress_free(struct progress *p);

/* The producer found more work. Until progress_total_final, totals are
 * shown as lower bounds ("12/340+"). */
void progress_add_total(struct progress *p, uint64_t files, uint64_t bytes);
void progress_total_final(struct progress *p);

/* Bytes moved (may be negative to undo a failed attempt). */
void progress_add_bytes(struct progress *p, int64_t bytes);
/* One file finished, successfully or not. */
void progress_file_done(struct progress *p, bool ok);

uint64_t progress_failed(const struct progress *p);
uint64_t progress_done(const struct progress *p);

/* Stops the redraw thread and clears the line. Idempotent. */
void progress_stop(struct progress *p);

/* Writes "put 1000 objects, 512.0 MiB in 3.2 s (160.0 MiB/s)" (and ", N
 * failed") with a newline to out. */
void progress_summary(struct progress *p, FILE *out);

/* Every other writer to stderr brackets its output with these, so that a
 * progress line being shown is erased first (it is redrawn on the next
 * tick). */
void progress_out_lock(void);
void progress_out_unlock(void);

#endif
