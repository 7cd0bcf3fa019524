/* The main() of a fuzz target in a normal build (-Dfuzz=false): runs
 * LLVMFuzzerTestOneInput over every file named on the command line, or in
 * a directory named there (the seed corpus), so that `meson test` replays
 * each seed under the build's sanitizers. Exits 1 if a file cannot be read;
 * a crash is the sanitizer's to report. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path, unsigned *n)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f) {
		fprintf(stdout, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? 2 * cap : 65536);

			if (!nb) {
				fprintf(stdout, "%s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	/* The input in a buffer of its own size, so that ASan sees a read
	 * past its end. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, len);
		free(buf);
		buf = exact;
	}
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	(*n)++;
	return 0;
}

static int replay(const char *path, unsigned *n)
{
	struct dirent **ents;
	struct stat st;
	int count, i, rc = 0;

	if (stat(path, &st) < 0) {
		fprintf(stdout, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, n);
	/* In name order, so that a failure is reproducible by its name. */
	count = scandir(path, &ents, NULL, alphasort);
	if (count < 0) {
		fprintf(stdout, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < count; i++) {
		char sub[4096];

		if (ents[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path,
				 ents[i]->d_name);
			if (replay(sub, n) < 0)
				rc = -1;
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned n = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (replay(argv[i], &n) < 0)
			rc = 1;
	fprintf(stdout, "%u inputs replayed\n", n);
	return rc;
}
