/* What the fuzz targets share: the libFuzzer entry point each defines, and
 * a quiet stderr for the code under test (its log lines and messages would
 * cost more than the parsing; sanitizers and libFuzzer write to fd 2
 * directly and are not affected). */
#ifndef AIS_FUZZ_H
#define AIS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Runs one input; returns 0. Defined by each fuzz_<name>.c, called by
 * libFuzzer or by replay.c. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Points stdio's stderr at /dev/null, once. */
static inline void fuzz_quiet_stderr(void)
{
	static int done;
	FILE *f;

	if (done)
		return;
	done = 1;
	f = fopen("/dev/null", "we");
	if (f)
		stderr = f;
}

#endif
