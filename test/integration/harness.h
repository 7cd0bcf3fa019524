/* Harness for the C integration tests: a private `ais local` cluster (or a
 * lone aisd) on loopback, node kill/restart, deterministic test data, raw
 * protocol access, and a teardown that always stops every node. */
#ifndef AIS_TEST_HARNESS_H
#define AIS_TEST_HARNESS_H

#include <check.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ais.pb-c.h"
#include "client.h"
#include "map.h"

#define AIS_TEST_MAX_PIDS 16

/* One test program's environment. Zero it, then ais_test_init(). */
struct ais_test_cluster {
	char name[64];
	char dir[PATH_MAX - 128];   /* private temp dir, removed at the end */
	char cluster_dir[PATH_MAX]; /* dir/cluster, given to `ais local` */
	char endpoint[64];	    /* "127.0.0.1:PORT" (also $AIS_ENDPOINT) */
	uint16_t port;		    /* base port; port..port+9 were free */
	int nodes;		    /* nodes started by ais_test_cluster_up */
	struct ais_client *client;  /* connected by ais_test_cluster_up */
	bool failed;		    /* print node logs at teardown */
	bool sanitizer_report;	    /* set by teardown: a node log has an
				       ASan/UBSan/LSan/TSan report */
	bool up;
	char lock[PATH_MAX]; /* port reservation (a lock dir) */
	/* aisd processes started directly (ais_test_spawn_aisd). */
	pid_t extra[AIS_TEST_MAX_PIDS];
	int n_extra;
	/* Teardown hooks (ais_test_on_teardown). */
	void (*hook[8])(void *arg);
	void *hook_arg[8];
	int n_hooks;
};

/* Makes the temp dir and picks the ports; sets AIS_ENDPOINT and AIS_AISD
 * (from $AISD); makes this process a child subreaper (so detached aisd
 * processes are reaped by us); installs the atexit and signal teardown.
 * Needs $AIS and $AISD. Returns 0 or -errno (message on stderr). Only one
 * cluster per process. */
int ais_test_init(struct ais_test_cluster *tc, const char *name);

/* `ais local up --dir DIR/cluster --port PORT --nodes N`, then connects
 * tc->client. Returns 0 or a negative errno (the output of ais is printed). */
int ais_test_cluster_up(struct ais_test_cluster *tc, int nodes);

/* Stops everything (ais local down, SIGKILL of leftovers), prints the last
 * 50 lines of every node log if tc->failed, scans the node logs for
 * sanitizer reports (printed, and tc->sanitizer_report set: the test must
 * fail), frees the client, removes the temp dir. Idempotent; also run at
 * exit and on fatal signals. */
void ais_test_teardown(struct ais_test_cluster *tc);

/* Registers fn(arg) to run at teardown after every process is stopped and
 * before the temp dir is removed (e.g. to unmount a tmpfs), in reverse order
 * of registration. At most 8. */
void ais_test_on_teardown(struct ais_test_cluster *tc, void (*fn)(void *),
			  void *arg);

/* The data dir of node i (DIR/cluster/nodeI) and its port (port + i). */
const char *ais_test_node_dir(struct ais_test_cluster *tc, int i, char *buf,
			      size_t len);
uint16_t ais_test_node_port(struct ais_test_cluster *tc, int i);
/* The pid of node i from its pidfile, or -1. */
pid_t ais_test_node_pid(struct ais_test_cluster *tc, int i);
/* Sends sig to node i; for SIGKILL/SIGTERM/SIGINT waits (15 s at most)
 * until it is gone and reaped. Returns 0 or -errno. */
int ais_test_node_kill(struct ais_test_cluster *tc, int i, int sig);
/* `ais local up --dir` again (restarts dead nodes with their data), then
 * refreshes the client's map. Returns 0 or -errno. */
int ais_test_node_restart(struct ais_test_cluster *tc);

/* Starts a lone `aisd -l 127.0.0.1 -p port -m mountpath --pidfile ...`
 * logging to DIR/<tag>.log and waits (10 s) until it accepts connections.
 * The process is killed at teardown. Returns the pid or -errno. */
pid_t ais_test_spawn_aisd(struct ais_test_cluster *tc, const char *tag,
			  uint16_t port, const char *mountpath);

/* Runs argv (argv[0] a path), output appended to DIR/<tag>.out, waits at
 * most timeout_s. Returns the exit status (0..255), or -errno / -ETIMEDOUT. */
int ais_test_run(struct ais_test_cluster *tc, const char *tag,
		 char *const argv[], int timeout_s);

/* VmHWM (peak RSS) of a process in KiB, or -1. */
long ais_test_vmhwm_kib(pid_t pid);

/* The cluster's map as the nodes report it (from ais_client_cluster_info),
 * for tests that must know which node owns a name. Fails the test (Check)
 * if the nodes cannot be asked. Free with ais_map_free. */
struct ais_map *ais_test_cluster_map(struct ais_client *c);

/* Whether tests that would skip must fail instead (AIS_TEST_REQUIRE_FUSE=1
 * or CI=true). */
bool ais_test_require_all(void);

/* The usual main(): ais_test_init, ais_test_cluster_up(nodes) (skipped for
 * 0), a bucket "test" (for nodes > 0), the suite in CK_NOFORK mode (the
 * tests share the cluster and run in order), teardown with node logs on
 * failure. Returns the exit status for main(). */
int ais_test_main(struct ais_test_cluster *tc, const char *name, int nodes,
		  Suite *s);

/* ---- deterministic data ------------------------------------------------ */

/* Fills buf with the bytes [off, off+len) of the stream named by seed. */
void ais_test_fill(uint64_t seed, uint64_t off, void *buf, size_t len);

/* A PUT source (ais_read_cb) producing size bytes of stream seed. */
struct ais_test_gen {
	uint64_t seed;
	uint64_t off;
	uint64_t size;
};
ssize_t ais_test_gen_read(void *arg, void *buf, size_t len);

/* A GET sink (ais_write_cb) comparing against stream seed from offset off;
 * records the first mismatch and the byte count. */
struct ais_test_verify {
	uint64_t seed;
	uint64_t off;	/* next expected offset within the stream */
	uint64_t got;	/* bytes received */
	int64_t bad_at; /* first mismatching stream offset, or -1 */
};
void ais_test_verify_init(struct ais_test_verify *v, uint64_t seed,
			  uint64_t off);
int ais_test_verify_write(void *arg, const void *buf, size_t len);

/* XXH3 hex of bytes [0, size) of stream seed. */
void ais_test_stream_cksum(uint64_t seed, uint64_t size,
			   char hex[AIS_CKSUM_HEX_MAX]);

/* ---- raw protocol ------------------------------------------------------ */

/* A blocking TCP connection to 127.0.0.1:port with 10 s send/receive
 * timeouts, with TLS (the session registered by fd, tls.h) when the test
 * cluster has a CA and the port is not of ais_test_spawn_aisd; -errno on
 * failure. Close it with ais_test_close. ais_test_connect_plain never
 * speaks TLS. */
int ais_test_connect(uint16_t port);
int ais_test_connect_plain(uint16_t port);
/* Same, showing node0's certificate (mutual TLS: what only nodes may
 * send is taken on it). */
int ais_test_connect_node(uint16_t port);
/* True if the test cluster speaks TLS. */
bool ais_test_tls(void);
void ais_test_close(int fd);
/* Writes or reads exactly len bytes on such a connection (through its TLS
 * session if it has one). 0, -EIO on EOF, or -errno. */
int ais_test_write_all(int fd, const void *buf, size_t len);
int ais_test_read_all(int fd, void *buf, size_t len);
/* Sends a frame (header with flags, packed req, then body_len bytes of
 * body, which may be NULL for zeros). A request without a token gets the
 * cluster's admin token (its DIR/cluster/token, when the cluster has
 * auth); ais_test_send_req_as sends req as it is. Returns 0 or -errno. */
int ais_test_send_req(int fd, uint32_t id, const Ais__Request *req,
		      const void *body, uint64_t body_len);
int ais_test_send_req_as(int fd, uint32_t id, const Ais__Request *req,
			 const void *body, uint64_t body_len);
/* Sets q's token to the cluster's admin token if it has none (and the
 * cluster has auth); the token stays valid for the process. */
void ais_test_add_token(Ais__Request *q);
/* Reads one response frame: the unpacked head (free with
 * ais__response__free_unpacked) and the body discarded (its length in
 * *body_len, may be NULL). Returns 0, -ECONNRESET on EOF, or -errno. */
int ais_test_recv_resp(int fd, Ais__Response **out, uint64_t *body_len);
/* True if the peer closed the connection (EOF or reset) within timeout_ms;
 * anything it sends first is read and discarded. */
bool ais_test_wait_closed(int fd, int timeout_ms);

#endif
