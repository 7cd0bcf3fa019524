/* The layout and processes of an "ais local" cluster: DIR/cluster.conf and
 * DIR/nodeI/{mpJ/,aisd.log,aisd.pid} (I, J from 0), finding the aisd
 * binary, starting a node detached and telling whether it still runs. */
#ifndef AIS_TOOLS_LOCAL_CLUSTER_H
#define AIS_TOOLS_LOCAL_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define LOCAL_NODES_DEFAULT  3
#define LOCAL_NODES_MAX	     64
#define LOCAL_MPATHS_DEFAULT 2
#define LOCAL_MPATHS_MAX     16
#define LOCAL_PORT_DEFAULT   51080
#define LOCAL_HOST	     "127.0.0.1"
#define LOCAL_CONF	     "cluster.conf"

struct local_layout {
	char dir[PATH_MAX - 64]; /* absolute */
	unsigned nodes;		 /* node I listens on port + I */
	unsigned mountpaths;	 /* per node */
	unsigned port;
	char etl_dir[PATH_MAX]; /* the nodes' etl_dir (absolute), "" none */
	/* Node I's S3 endpoint is on s3_port+I (0: none; a cluster.conf
	 * without the key: port+2*nodes, right after the Raft ports). */
	unsigned s3_port;
	/* Nodes run with auth_secret_file DIR/secret (cluster.conf "auth =
	 * on"; a cluster.conf without the key: off). */
	bool auth;
	/* Nodes speak TLS with certificates of the cluster's own CA
	 * (DIR/ca.pem; cluster.conf "tls = on"; without the key: off). */
	bool tls;
};
#define LOCAL_S3_ENV	"s3.env"
#define LOCAL_S3_REGION "us-east-1"
#define LOCAL_SECRET	"secret"	 /* the cluster's secret, 0600 */
#define LOCAL_TOKEN	"token"		 /* admin's token, 0600 */
#define LOCAL_ADMIN_PW	"admin.password" /* admin's password, 0600 */
#define LOCAL_CA	"ca.pem"	 /* the cluster's CA */
#define LOCAL_CA_KEY	"ca.key"	 /* its key, 0600 */
#define LOCAL_NODE_CERT "tls.crt"	 /* nodeI/: node I's certificate */
#define LOCAL_NODE_KEY	"tls.key"	 /* nodeI/: its key, 0600 */

/* A new cluster's CA and every node's certificate, made if missing (a
 * node's renewed when it has less than 30 days left: renewed[i] set).
 * 0 or -errno. */
int local_tls_ensure(const struct local_layout *l, bool *renewed, char *errmsg);

/* Copies the small file src to dst (its directory made if missing). */
int local_copy_file(const char *src, const char *dst, char *errmsg);

/* Where this user's clients find the CA of node i of cluster l on their
 * own: ~/.config/ais/ca/HOST:PORT.pem (client.h). 0 or -errno. */
int local_tls_ca_copy_path(const struct local_layout *l, unsigned i, char *out,
			   size_t cap, char *errmsg);

/* The S3 base port of a cluster that does not say: after its Raft ports
 * (0 when that is past 65535). */
unsigned local_s3_default_port(const struct local_layout *l);

/* $AIS_LOCAL_DIR, else /tmp/ais-local-UID, into buf. */
void local_default_dir(char *buf, size_t len);

/* Reads l->dir/cluster.conf into l. Returns 0, -ENOENT when there is none,
 * or -errno / -EINVAL with errmsg. */
int local_conf_load(struct local_layout *l, char *errmsg);

/* Writes l->dir/cluster.conf atomically. Returns 0 or -errno, errmsg. */
int local_conf_save(const struct local_layout *l, char *errmsg);

/* l->dir/nodeI[/leaf] into buf (leaf may be NULL). Returns 0, or
 * -ENAMETOOLONG when it was truncated (callers size buf PATH_MAX + 16 for
 * a dir of at most PATH_MAX - 32 bytes, so this does not happen). */
int local_node_path(const struct local_layout *l, unsigned i, const char *leaf,
		    char *buf, size_t len);

/* The pid of node i if it runs: its pidfile names a live process (not a
 * zombie) whose command line carries that pidfile. 0 if not running. */
pid_t local_node_pid(const struct local_layout *l, unsigned i);

/* True if pid is a live, non-zombie process. */
int local_pid_alive(pid_t pid);

/* Finds aisd: $AIS_AISD, else next to this executable (DIR/aisd,
 * DIR/../daemon/aisd, DIR/../sbin/aisd), else $PATH. Returns 0 or -ENOENT
 * with errmsg. */
int local_find_aisd(char *buf, size_t len, char *errmsg);
/* The transforms shipped with aisd (etl/: ais-etl-python's scripts, the
 * C example), beside the aisd at aisd: in its build tree or where it is
 * installed. 0 with the real path in buf (PATH_MAX), or -ENOENT. */
int local_find_etl_dir(const char *aisd, char *buf);

/* Creates node i's directories and starts aisd for it as a detached
 * process (own session, stdin /dev/null, stdout and stderr appended to
 * aisd.log). log_level and config (an aisd configuration file for its
 * other settings) may be NULL. *pid is the new process, a child of the
 * caller. Returns 0 or -errno with errmsg (exec failures included). */
int local_spawn(const struct local_layout *l, unsigned i, const char *aisd,
		const char *log_level, const char *config, pid_t *pid,
		char *errmsg);

/* Writes the last lines of node i's aisd.log to out, indented. */
void local_log_tail(const struct local_layout *l, unsigned i, FILE *out,
		    unsigned lines);

/* Removes dir and everything under it (symlinks are not followed). */
int local_rm_rf(const char *dir, char *errmsg);

#endif
