/* aisfs mount options: the "-o a,b=c" list parsed into one struct. */
#ifndef AISFS_MOUNT_OPTS_H
#define AISFS_MOUNT_OPTS_H

#include <stdbool.h>
#include <sys/types.h>

#include "names.h"
#include "util.h"

/* How archives (x.tar, x.tgz, x.zip...) appear: VIEW (the default) as
 * the files they are, with their members under the directory x.tar.d
 * (AFS_SHARD_VIEW: looked up, never listed); DIR as directories of their
 * members in place of the files; FILE as files only. */
enum afs_shards {
	AFS_SHARDS_DIR = 0,
	AFS_SHARDS_FILE = 1,
	AFS_SHARDS_VIEW = 2
};

struct afs_opts {
	char endpoint[4096];		 /* HOST:PORT[,HOST:PORT...] */
	char mountpoint[4096];		 /* absolute */
	char bucket[AIS_BUCKET_MAX + 1]; /* "" = every bucket at the root */
	char spool_dir[4096];
	char log_file[4096]; /* "" = stderr while foreground, else nothing */
	bool ro;
	bool allow_other;
	bool debug;
	bool nocto; /* an open within attr_timeout of the last confirmation of
		       a file's metadata does not ask the cluster again */
	bool noleases;	/* no leases (lease.h): every open asks the cluster */
	bool writeback; /* a close answers before the upload (writeback.h) */
	/* ro with leases: opens never reach aisfs (the kernel's no_open);
	 * -1 until given (then: on for ro mounts with leases). */
	int kernel_open;
	double lease_timeout; /* entry/attr cache time of what a lease covers */
	bool lease_timeout_given; /* else longer where names live long */
	double attr_timeout;	  /* seconds */
	double entry_timeout;
	double negative_timeout;
	int shards; /* enum afs_shards */
	/* The owner of what has none stored (ais put), and of the directories
	 * so far; given (uid=, gid=): of every file, whatever is stored. */
	uid_t uid;
	gid_t gid;
	bool uid_given, gid_given;
	int timeout_s; /* a down cluster gives EIO after this long */
	/* A transformed view (etl.h): files read through this transform,
	 * with these arguments; "" none. Implies ro. */
	char etl[AIS_BUCKET_MAX + 1];
	char etl_args[1024];
	unsigned max_threads;
	/* The token requests carry (absolute; "" = $AIS_TOKEN_FILE, else
	 * the one saved for the cluster: ais_client_opts). */
	char token_file[4096];
	char ca_file[4096]; /* "": ais_client_opts' default */
};

/* Fills the defaults: attr/entry 1 s, negative 0, timeout 20 s, spool
 * $TMPDIR or /var/tmp, uid/gid of the caller. */
void afs_opts_default(struct afs_opts *o);

/* Applies one comma-separated option list. Generic mount(8)/fstab options
 * (defaults, _netdev, rw, auto, noauto, user, nofail, x-*, ...) are
 * accepted and ignored. As the list separator is the comma, the more
 * addresses of endpoint=HOST:PORT,HOST:PORT are the HOST:PORT items that
 * follow it (an item without '=' that has a ':' and no other meaning).
 * Returns 0 or -EINVAL with the reason in errmsg. */
int afs_opts_parse(struct afs_opts *o, const char *list, char *errmsg);

#endif
