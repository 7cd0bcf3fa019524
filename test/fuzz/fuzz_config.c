/* Fuzz target: configuration files. The input is written as a file and
 * read twice: as aisd.conf by aisd's own option parser (daemon/opts.c over
 * lib/core/config.c: every key, its value's checks, the merge), and as an
 * "ais local" cluster.conf (tools/local_cluster.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"

#include "local_cluster.h"
#include "opts.h"
#include "transfer.h"

#include "fuzz.h"

/* local_cluster.c's one call into the rest of ais (starting a node), not
 * reached from reading cluster.conf. */
int xfer_mkdir_p(const char *dir, char *errmsg)
{
	(void)dir;
	return ais_errf(errmsg, -ENOSYS, "not in the fuzz target");
}

static char dir[] = "/tmp/ais-fuzz-config.XXXXXX";
static char conf[sizeof(dir) + 32];

static void cleanup(void)
{
	unlink(conf);
	rmdir(dir);
}

static int setup(void)
{
	static int done;

	if (done)
		return done;
	fuzz_quiet_stderr();
	if (!mkdtemp(dir))
		return done = -1;
	/* One file: aisd reads it by its name, "ais local" as DIR's. */
	snprintf(conf, sizeof(conf), "%s/%s", dir, LOCAL_CONF);
	atexit(cleanup);
	return done = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct local_layout l;
	char errmsg[AIS_ERRMSG_LEN];
	char aisd[] = "aisd", c_flag[] = "-c";
	char *argv[] = {aisd, c_flag, conf, NULL};
	struct aisd_opts o;
	int fd;

	if (setup() < 0)
		return 0;
	fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	if (ais_write_all(fd, data, size) < 0) {
		close(fd);
		return 0;
	}
	close(fd);
	/* A failure after the merge leaves o to free too (aisd exits). */
	aisd_opts_parse(&o, 3, argv);
	aisd_opts_free(&o);
	memset(&l, 0, sizeof(l));
	snprintf(l.dir, sizeof(l.dir), "%s", dir);
	local_conf_load(&l, errmsg);
	return 0;
}
