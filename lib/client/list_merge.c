/* Merging the sorted LIST pages of several nodes into one page.
 *
 * The merge keeps no per-source cursor array: the next candidate of a source
 * is found by binary search for the first name greater than the last one
 * emitted. That needs no allocation (the function cannot fail), skips
 * duplicates inside a source for free, and costs O(page * nsrc * log n),
 * which is nothing next to the network round trip that produced the pages.
 *
 * Equal names from several sources are one entry. A name is emitted only
 * when it is at or before every truncated source's last entry (the
 * horizon), so every source that holds it within this listing has it in
 * the page at hand: the choice among the copies (the one written last) is
 * made with all of them in view, and the next page, which starts after
 * the name, never brings the name back.
 */
#include <string.h>

#include "list_merge.h"

/* Index of the first entry of s whose name is > after (all when after is
 * NULL). Relies on the entries being sorted; strcmp() compares bytes as
 * unsigned char, which is the listing order. */
static size_t first_after(const struct ais_list_src *s, const char *after)
{
	size_t lo = 0, hi = s->n;

	if (!after)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->entries[mid]->name, after) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* When the copy was written (0 for prefixes and older nodes). */
static int64_t written_ns(const Ais__ListEntry *e)
{
	return e->is_prefix || !e->meta ? 0 : e->meta->written_ns;
}

/* A source with more but no entries says nothing about where it continues;
 * it is treated as complete (a node never answers that way with a page
 * size above 0). */
static bool has_more(const struct ais_list_src *s)
{
	return s->more && s->n > 0;
}

void ais_list_merge(const struct ais_list_src *srcs, size_t nsrc,
		    size_t page_size, Ais__ListEntry **out, size_t *n,
		    bool *more)
{
	const char *horizon = NULL;
	const char *last = NULL;
	size_t cnt = 0;
	size_t i;

	/* Nothing past the smallest last entry of a truncated source may be
	 * emitted: that node may still hold names before it. */
	for (i = 0; i < nsrc; i++) {
		const struct ais_list_src *s = &srcs[i];
		const char *tail;

		if (!has_more(s))
			continue;
		tail = s->entries[s->n - 1]->name;
		if (!horizon || strcmp(tail, horizon) < 0)
			horizon = tail;
	}

	while (cnt < page_size) {
		Ais__ListEntry *best = NULL;

		for (i = 0; i < nsrc; i++) {
			const struct ais_list_src *s = &srcs[i];
			size_t k = first_after(s, last);
			Ais__ListEntry *e;
			int cmp;

			if (k >= s->n)
				continue;
			e = s->entries[k];
			if (horizon && strcmp(e->name, horizon) > 0)
				continue;
			if (!best)
				cmp = -1;
			else
				cmp = strcmp(e->name, best->name);
			/* Of equal names (an object the old and the new
			 * owner both hold during a rebalance) the copy
			 * written last; the first source's on a tie. */
			if (cmp < 0 ||
			    (cmp == 0 && written_ns(e) > written_ns(best)))
				best = e;
		}
		if (!best)
			break;
		out[cnt++] = best;
		last = best->name;
	}
	*n = cnt;

	/* More follows if any source is truncated or still holds a name past
	 * the last one emitted (duplicates of it do not count). */
	*more = false;
	for (i = 0; i < nsrc && !*more; i++) {
		const struct ais_list_src *s = &srcs[i];

		if (has_more(s) || first_after(s, last) < s->n)
			*more = true;
	}
}
