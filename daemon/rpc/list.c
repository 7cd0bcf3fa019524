/* LIST: one page of a bucket's names on this node (store/listing.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "names.h"

#include "rpc/rpc_i.h"
#include "store/listing.h"

int rpc_list(struct rpc *r)
{
	Ais__Request *q = r->req;
	Ais__ListEntry *ents = NULL, **ptrs = NULL;
	Ais__ObjMeta *metas = NULL;
	struct listing l;
	size_t i, total = 0, max;
	int rc;

	rc = rpc_check_bucket(r, q->bucket);
	if (!rc)
		rc = ais_name_check_prefix(q->prefix, r->errmsg);
	if (rc)
		return rc;
	if (q->delimiter[0] && strcmp(q->delimiter, "/"))
		return ais_errf(r->errmsg, -EINVAL,
				"delimiter must be \"\" or \"/\", not \"%s\"",
				q->delimiter);
	if (strlen(q->start_after) > AIS_NAME_MAX + 1)
		return ais_errf(r->errmsg, -ENAMETOOLONG,
				"start_after is longer than %d bytes",
				AIS_NAME_MAX + 1);
	rc = listing_run(r->d->store, q->bucket, q->prefix, q->delimiter,
			 q->start_after, q->page_size, &l, r->errmsg);
	if (rc)
		return rc;
	if (l.n) {
		ents = calloc(l.n, sizeof(*ents));
		ptrs = calloc(l.n, sizeof(*ptrs));
		metas = calloc(l.n, sizeof(*metas));
		if (!ents || !ptrs || !metas) {
			rc = ais_errf(r->errmsg, -ENOMEM, "out of memory");
			goto out;
		}
	}
	/* The page must fit in one response head (AIS_FRAME_HEAD_MAX). */
	max = AIS_FRAME_HEAD_MAX - RPC_HEAD_SLACK;
	for (i = 0; i < l.n; i++) {
		ais__list_entry__init(&ents[i]);
		ents[i].name = l.e[i].name;
		ents[i].is_prefix = l.e[i].is_prefix;
		if (!l.e[i].is_prefix) {
			ais_obj_meta_to_pb(&l.e[i].meta, &metas[i]);
			ents[i].meta = &metas[i];
		}
		total += ais__list_entry__get_packed_size(&ents[i]) + 4;
		if (total > max) {
			l.more = true;
			break;
		}
		ptrs[i] = &ents[i];
	}
	r->resp.n_entries = i;
	r->resp.entries = ptrs;
	r->resp.next_token = l.more && i ? l.e[i - 1].name : (char *)"";
	r->resp.status = 0;
	rpc_send_resp(r, 0);
	rc = 1;
out:
	free(ents);
	free(ptrs);
	free(metas);
	listing_free(&l);
	return rc;
}
