/* identity: a worker-mode transform in C that answers every object with
 * its own bytes, or with its first N bytes when given --etl-args N. The
 * example of ais_etl.h, and what test/bench measures a worker's overhead
 * with:
 *
 *	ais etl init same --mode worker --cmd /ETL_DIR/identity
 *	ais get ais://b/obj - --etl same [--etl-args 100]
 */
#include <stdlib.h>

#include "ais_etl.h"

static int identity(const struct ais_etl_req *req, struct ais_etl_out *out,
		    void *arg)
{
	size_t n = req->size;
	char *end;

	(void)arg;
	if (req->args[0]) {
		unsigned long long want = strtoull(req->args, &end, 10);

		if (*end || end == req->args)
			return ais_etl_fail(out,
					    "%s: args \"%s\": not a byte "
					    "count",
					    req->name, req->args);
		if (want < n)
			n = (size_t)want;
	}
	ais_etl_set(out, req->data, n);
	return 0;
}

int main(void)
{
	return ais_etl_serve(identity, NULL);
}
