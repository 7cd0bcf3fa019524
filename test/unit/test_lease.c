/* Unit tests of daemon/lease: a change is answered only once every mount
 * holding a lease applied it (or its lease ran out); a poll gets the
 * changes after its number, oldest first, not its own, only its bucket's,
 * paged; a number from before a restart or older than the ring is -ESTALE;
 * the grace period after a start ends when the mounts of the last run are
 * back, or when their leases ran out. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#include "lease/lease.h"
#include "scratch.h"

#define LEASE 600 /* ms */

struct got {
	char names[64][64];
	size_t n;
	size_t room; /* answer "no room" after this many (0: no limit) */
};

static int collect(void *arg, const char *bucket, const char *name)
{
	struct got *g = arg;

	if (g->room && g->n == g->room)
		return 1;
	ck_assert_uint_lt(g->n, 64);
	snprintf(g->names[g->n++], 64, "%s/%s", bucket, name);
	return 0;
}

static uint64_t ms_since(uint64_t t0)
{
	return (ais_now_mono_ns() - t0) / 1000000ULL;
}

/* A node past its grace period (no stamp: a whole lease). */
static struct leases *serving(void)
{
	struct leases *l = leases_new(LEASE, NULL);

	ck_assert_ptr_nonnull(l);
	leases_serving(l);
	usleep((LEASE + 50) * 1000);
	return l;
}

START_TEST(test_feed)
{
	struct leases *l = serving();
	struct got g = {0};
	uint64_t at, upto, s1;

	/* A first poll learns where the feed stands, at once. */
	ck_assert_int_eq(
	    leases_poll(l, 7, "", 0, 0, 1000, 100, collect, &g, &at), 0);
	ck_assert_uint_eq(g.n, 0);
	s1 = leases_note(l, "b", "x", 0);
	ck_assert_uint_gt(s1, at);
	(void)leases_note(l, "c", "y", 0);
	(void)leases_note(l, "b", "mine", 7); /* made for mount 7 */
	(void)leases_note(l, "b", "d/z", 0);
	ck_assert_int_eq(
	    leases_poll(l, 7, "", at, 0, 1000, 100, collect, &g, &upto), 0);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_str_eq(g.names[0], "b/x");
	ck_assert_str_eq(g.names[1], "c/y");
	ck_assert_str_eq(g.names[2], "b/d/z");
	/* Only bucket b, one page at a time. */
	memset(&g, 0, sizeof(g));
	g.room = 1;
	ck_assert_int_eq(
	    leases_poll(l, 8, "b", at, 0, 1000, 100, collect, &g, &upto), 0);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.names[0], "b/x");
	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(
	    leases_poll(l, 8, "b", upto, 0, 1000, 100, collect, &g, &upto), 0);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.names[0], "b/mine");
	ck_assert_str_eq(g.names[1], "b/d/z");
	/* Nothing new: held for the wait, then answered empty. */
	memset(&g, 0, sizeof(g));
	at = ais_now_mono_ns();
	ck_assert_int_eq(
	    leases_poll(l, 8, "b", upto, 0, 200, 100, collect, &g, &upto), 0);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_uint_ge(ms_since(at), 150);
	/* A number from another run, or never given. */
	ck_assert_int_eq(
	    leases_poll(l, 8, "b", 5, 0, 10, 100, collect, &g, &at), -ESTALE);
	ck_assert_int_eq(
	    leases_poll(l, 8, "b", upto + 1000, 0, 10, 100, collect, &g, &at),
	    -ESTALE);
	ck_assert_uint_eq(at, upto);
	ck_assert_uint_eq(leases_holders(l), 2);
	leases_free(l);
}
END_TEST

struct poller {
	struct leases *l;
	uint64_t id, since;
	int polls;
	struct got g;
};

/* A mount: polls, "applies" (a small delay), polls again. */
static void *poll_thread(void *arg)
{
	struct poller *p = arg;
	uint64_t upto;
	int i;

	for (i = 0; i < p->polls; i++) {
		ck_assert_int_eq(leases_poll(p->l, p->id, "", p->since, 0, 300,
					     100, collect, &p->g, &upto),
				 0);
		usleep(20000);
		p->since = upto;
	}
	return NULL;
}

START_TEST(test_wait_for_ack)
{
	struct leases *l = serving();
	struct poller p = {.l = l, .id = 1, .polls = 6};
	struct got g = {0};
	uint64_t t0, seq, since;
	pthread_t t;

	ck_assert_int_eq(
	    leases_poll(l, 1, "", 0, 0, 0, 100, collect, &g, &since), 0);
	p.since = since;
	ck_assert_int_eq(pthread_create(&t, NULL, poll_thread, &p), 0);
	usleep(50000);
	/* Answered once the mount polled past it: well within a lease. */
	t0 = ais_now_mono_ns();
	seq = leases_note(l, "b", "o", 0);
	(void)leases_wait(l, "b", seq, 0);
	ck_assert_uint_lt(ms_since(t0), LEASE / 2);
	ck_assert_uint_ge(p.since, seq);
	ck_assert_str_eq(p.g.names[0], "b/o");
	/* Its own change is not waited for. */
	t0 = ais_now_mono_ns();
	seq = leases_note(l, "b", "own", 1);
	(void)leases_wait(l, "b", seq, 1);
	ck_assert_uint_lt(ms_since(t0), 10);
	pthread_join(t, NULL);
	/* The mount stopped polling: the next change waits out its lease
	 * (from its last poll), no longer; then it is dropped. */
	t0 = ais_now_mono_ns();
	seq = leases_note(l, "b", "p", 0);
	(void)leases_wait(l, "b", seq, 0);
	ck_assert_uint_lt(ms_since(t0), LEASE + 100);
	ck_assert_uint_eq(leases_holders(l), 0);
	t0 = ais_now_mono_ns();
	seq = leases_note(l, "b", "q", 0);
	(void)leases_wait(l, "b", seq, 0);
	ck_assert_uint_lt(ms_since(t0), 10);
	leases_free(l);
}
END_TEST

/* A mount that says it is gone is not waited for: a change waiting for
 * it goes on at once. */
struct waiter {
	struct leases *l;
	uint64_t seq, ms;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	uint64_t t0 = ais_now_mono_ns();

	(void)leases_wait(w->l, "b", w->seq, 0);
	w->ms = ms_since(t0);
	return NULL;
}

START_TEST(test_release)
{
	struct leases *l = serving();
	struct got g = {0};
	struct waiter w = {.l = l};
	uint64_t since;
	pthread_t t;

	ck_assert_int_eq(
	    leases_poll(l, 7, "", 0, 0, 0, 100, collect, &g, &since), 0);
	ck_assert_uint_eq(leases_holders(l), 1);
	w.seq = leases_note(l, "b", "o", 0);
	ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	usleep(100000);
	ck_assert(leases_release(l, 7));
	pthread_join(t, NULL);
	ck_assert_uint_lt(w.ms, LEASE / 2);
	ck_assert_uint_eq(leases_holders(l), 0);
	ck_assert(!leases_release(l, 7)); /* once */
	leases_free(l);
}
END_TEST

START_TEST(test_ring_overflow)
{
	struct leases *l = serving();
	struct got g = {0};
	uint64_t since, upto;
	int i;

	ck_assert_int_eq(
	    leases_poll(l, 3, "", 0, 0, 0, 100, collect, &g, &since), 0);
	for (i = 0; i < LEASE_CHANGES + 10; i++)
		(void)leases_note(l, "b", "n", 3);
	ck_assert_int_eq(
	    leases_poll(l, 3, "", since, 0, 0, 100, collect, &g, &upto),
	    -ESTALE);
	ck_assert_uint_eq(upto, since + LEASE_CHANGES + 10);
	/* From there on, the feed goes on. */
	(void)leases_note(l, "b", "m", 0);
	ck_assert_int_eq(
	    leases_poll(l, 3, "", upto, 0, 0, 100, collect, &g, &upto), 0);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.names[0], "b/m");
	leases_free(l);
}
END_TEST

/* A first poll, and a poll of another run, acknowledge nothing: the
 * mount drops what it cached on their answer, and says so by its next
 * poll. A change waits for that one. */
struct later {
	struct leases *l;
	uint64_t id, since, run;
	int rc;
};

static void *poll_later(void *arg)
{
	struct later *p = arg;
	struct got g = {0};
	uint64_t upto;

	usleep(300000);
	p->rc = leases_poll(p->l, p->id, "", p->since, p->run, 0, 100, collect,
			    &g, &upto);
	return NULL;
}

/* Change seq waits for p's next poll (300 ms from now), no longer. */
static void wait_for_later(struct later *p, uint64_t seq)
{
	uint64_t t0;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, poll_later, p), 0);
	t0 = ais_now_mono_ns();
	(void)leases_wait(p->l, "b", seq, 0);
	ck_assert_uint_ge(ms_since(t0), 250);
	ck_assert_uint_lt(ms_since(t0), LEASE);
	pthread_join(t, NULL);
	ck_assert_int_eq(p->rc, 0);
}

START_TEST(test_ack_after_reset)
{
	struct leases *l = serving();
	struct later p = {.l = l, .id = 9};
	struct got g = {0};
	uint64_t seq, since, upto;

	seq = leases_note(l, "b", "before", 0);
	ck_assert_int_eq(
	    leases_poll(l, 9, "", 0, 0, 0, 100, collect, &g, &since), 0);
	ck_assert_uint_ge(since, seq);
	p.since = since;
	p.run = leases_run(l);
	wait_for_later(&p, seq);

	/* A number that this run also has, from another run: -ESTALE. */
	seq = leases_note(l, "b", "other run", 0);
	ck_assert_int_eq(leases_poll(l, 9, "", since, leases_run(l) + 1, 0, 100,
				     collect, &g, &upto),
			 -ESTALE);
	ck_assert_uint_eq(upto, seq);
	p.since = upto;
	wait_for_later(&p, seq);
	leases_free(l);
}
END_TEST

/* The grace period: a fresh node waits LEASE_NEW_GRACE_MS; a restarted one
 * for the mounts of its last run, or until their leases ran out. */
START_TEST(test_grace)
{
	char dir[PATH_MAX], stamp[PATH_MAX + 16];
	struct got g = {0};
	struct leases *l;
	uint64_t t0, seq, since;

	scratch_dir(dir, "grace");
	snprintf(stamp, sizeof(stamp), "%s/leases", dir);
	/* Never ran here. */
	l = leases_new(LEASE, stamp);
	ck_assert_ptr_nonnull(l);
	leases_serving(l);
	t0 = ais_now_mono_ns();
	seq = leases_note(l, "b", "x", 0);
	(void)leases_wait(l, "b", seq, 0);
	ck_assert_uint_ge(ms_since(t0), LEASE_NEW_GRACE_MS - 100);
	/* A mount polls: its id goes in the stamp. */
	ck_assert_int_eq(
	    leases_poll(l, 0xabc, "", 0, 0, 0, 100, collect, &g, &since), 0);
	leases_free(l);
	ck_assert_int_eq(access(stamp, F_OK), 0);

	/* Restarted at once, with a long lease: waits for mount 0xabc... */
	l = leases_new(10000, stamp);
	ck_assert_ptr_nonnull(l);
	leases_serving(l);
	t0 = ais_now_mono_ns();
	seq = leases_note(l, "b", "y", 0);
	/* ...which comes back (its number from the last run: -ESTALE, and
	 * it drops what it cached) after 1.8 s. */
	usleep(1800000);
	ck_assert_int_eq(
	    leases_poll(l, 0xabc, "", since, 0, 0, 100, collect, &g, &since),
	    -ESTALE);
	/* It goes on from where the feed stands (that acknowledges). */
	ck_assert_int_eq(
	    leases_poll(l, 0xabc, "", since, 0, 0, 100, collect, &g, &since),
	    0);
	(void)leases_wait(l, "b", seq, 0);
	ck_assert_uint_ge(ms_since(t0), 1700);
	ck_assert_uint_lt(ms_since(t0), 3000);
	leases_free(l);
	scratch_rm(dir);
}
END_TEST

static Suite *lease_suite(void)
{
	Suite *s = suite_create("lease");
	TCase *tc = tcase_create("lease");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_feed);
	tcase_add_test(tc, test_wait_for_ack);
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_ring_overflow);
	tcase_add_test(tc, test_ack_after_reset);
	tcase_add_test(tc, test_grace);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	scratch_init("lease");
	return scratch_run(lease_suite());
}
