/* The inode table: a chained hash table by parent and name, under one
 * mutex; the kernel knows an inode by its address. Lookups are short critical
 * sections; no network call is ever made with the table lock held. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hash.h"
#include "inode.h"

/* Inodes are carved from blocks of SLAB_BLOCK bytes, one size class per
 * 8 bytes of name, without malloc's per-chunk header and 16-byte rounding
 * (at a million inodes, 16 MiB). A freed slot (kind 0) goes on its class's
 * free list and is reused; blocks go back only when the table is freed.
 * Blocks are mapped, not malloc'd: long-lived inodes scattered through
 * malloc's arenas would pin the short-lived buffers freed around them. */
/* The name starts right after the last field, in the struct's tail
 * padding: a slot is the fields and the name rounded up to 8 bytes. */
#define SLOT_BASE    offsetof(struct afs_inode, iname)
#define SLAB_BLOCK   (256 * 1024)
#define SLAB_NAMEMAX 1024 /* longest name that fits a class */
#define SLAB_CLASSES ((SLOT_BASE + SLAB_NAMEMAX + 1 + 7) / 8 + 1)

struct slab_block {
	struct slab_block *next;
	uint32_t slot; /* bytes per slot */
	uint32_t used; /* slots carved so far */
	_Alignas(16) unsigned char data[];
};

struct slab_free {
	struct slab_free *next;
};

struct afs_itable {
	pthread_mutex_t lock;
	uint64_t next_ino;
	size_t count;
	size_t bytes;	 /* in live inodes' slots */
	size_t nbuckets; /* power of two */
	struct afs_inode **by_name;
	struct afs_inode *root;
	struct slab_block *blocks; /* every block, for afs_itable_free */
	struct slab_block *open[SLAB_CLASSES]; /* the one being carved */
	struct slab_free *free[SLAB_CLASSES];
};

static size_t slot_class(size_t namelen)
{
	return (SLOT_BASE + namelen + 1 + 7) / 8;
}

static size_t class_size(size_t cls)
{
	return cls * 8;
}

static struct afs_inode *slab_alloc(struct afs_itable *t, size_t namelen)
{
	size_t cls = slot_class(namelen), size = class_size(cls);
	struct slab_block *b;
	void *p;

	if (namelen > SLAB_NAMEMAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (t->free[cls]) {
		p = t->free[cls];
		t->free[cls] = t->free[cls]->next;
	} else {
		b = t->open[cls];
		if (!b ||
		    (size_t)(b->used + 1) * size > SLAB_BLOCK - sizeof(*b)) {
			b = mmap(NULL, SLAB_BLOCK, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (b == MAP_FAILED) {
				errno = ENOMEM;
				return NULL;
			}
			b->slot = (uint32_t)size;
			b->used = 0;
			b->next = t->blocks;
			t->blocks = b;
			t->open[cls] = b;
		}
		p = b->data + (size_t)b->used++ * size;
	}
	memset(p, 0, size);
	t->bytes += size;
	return p;
}

static void slab_release(struct afs_itable *t, struct afs_inode *in)
{
	size_t cls = slot_class(strlen(in->iname));
	struct slab_free *f = (struct slab_free *)in;

	in->kind = 0;
	f->next = t->free[cls];
	t->free[cls] = f;
	t->bytes -= class_size(cls);
}

static const char *iname_of(struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in);

	return x && x->name ? x->name : in->iname;
}

static uint64_t name_hash(struct afs_inode *parent, const char *name)
{
	return ais_hash_str(name, parent->ino);
}

static size_t name_slot(struct afs_itable *t, struct afs_inode *in)
{
	return name_hash(in->parent, iname_of(in)) & (t->nbuckets - 1);
}

static void name_insert(struct afs_itable *t, struct afs_inode *in)
{
	size_t s = name_slot(t, in);

	in->next_name = t->by_name[s];
	t->by_name[s] = in;
	in->hashed = true;
}

static void name_remove(struct afs_itable *t, struct afs_inode *in)
{
	struct afs_inode **pp;

	if (!in->hashed)
		return;
	for (pp = &t->by_name[name_slot(t, in)]; *pp; pp = &(*pp)->next_name) {
		if (*pp == in) {
			*pp = in->next_name;
			break;
		}
	}
	in->next_name = NULL;
	in->hashed = false;
}

/* Doubles the table when chains average two; on ENOMEM they just grow. */
static void maybe_grow(struct afs_itable *t)
{
	struct afs_inode **bn, *in, *next;
	size_t old = t->nbuckets, i, s;

	if (t->count < 2 * t->nbuckets)
		return;
	bn = calloc(old * 2, sizeof(*bn));
	if (!bn)
		return;
	t->nbuckets = old * 2;
	for (i = 0; i < old; i++) {
		for (in = t->by_name[i]; in; in = next) {
			next = in->next_name;
			s = name_slot(t, in);
			in->next_name = bn[s];
			bn[s] = in;
		}
	}
	free(t->by_name);
	t->by_name = bn;
}

static struct afs_inode *inode_alloc(struct afs_itable *t, uint64_t ino,
				     int kind, const char *name)
{
	size_t len = strlen(name);
	struct afs_inode *in = slab_alloc(t, len);

	if (!in)
		return NULL;
	memcpy(in->iname, name, len + 1);
	in->ino = ino;
	in->kind = (uint8_t)kind;
	pthread_spin_init(&in->lock, PTHREAD_PROCESS_PRIVATE);
	return in;
}

struct afs_iext *afs_inode_ext(struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in), *want = NULL;

	if (x)
		return x;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	if (!atomic_compare_exchange_strong_explicit(&in->ext, &want, x,
						     memory_order_acq_rel,
						     memory_order_acquire)) {
		free(x);
		x = want; /* another thread's, installed meanwhile */
	}
	return x;
}

static bool times_differ(int64_t atime, int64_t ctime, int64_t mtime)
{
	return atime != mtime || ctime != mtime;
}

/* One table per process: set at the start, read-only after. */
static uint32_t default_uid, default_gid;

void afs_inode_default_owner(uint32_t uid, uint32_t gid)
{
	default_uid = uid;
	default_gid = gid;
}

static bool owner_needs_room(uint32_t uid, uint32_t gid)
{
	return uid != default_uid || gid != default_gid;
}

void afs_inode_owner_room(struct afs_inode *in, uint32_t uid, uint32_t gid)
{
	if (owner_needs_room(uid, gid))
		(void)afs_inode_ext(in); /* ENOMEM: see afs_inode_set_owner */
}

void afs_inode_set_owner(struct afs_inode *in, uint32_t uid, uint32_t gid)
{
	struct afs_iext *x = afs_iext(in);

	in->owned = true;
	in->owner_lost = false;
	if (!owner_needs_room(uid, gid)) {
		if (x)
			x->owner_set = false;
		return;
	}
	if (!x) {
		/* Never shown as owned by someone it is not. */
		in->owner_lost = true;
		return;
	}
	x->owner_set = true;
	x->uid = uid;
	x->gid = gid;
}

void afs_inode_meta_room(struct afs_inode *in, const struct ais_obj_meta *m)
{
	if (times_differ(m->atime_ns, m->ctime_ns, m->mtime_ns) ||
	    (m->owned && owner_needs_room(m->uid, m->gid)))
		(void)afs_inode_ext(in); /* ENOMEM: see the setters */
}

void afs_inode_set_times(struct afs_inode *in, int64_t atime, int64_t ctime)
{
	struct afs_iext *x = afs_iext(in);
	bool differ = times_differ(atime, ctime, in->meta.mtime_ns);

	if (!x)
		return;
	x->times_set = differ;
	x->atime_ns = atime;
	x->ctime_ns = ctime;
}

void afs_inode_meta_get(struct afs_inode *in, struct ais_obj_meta *m)
{
	struct afs_iext *x = afs_iext(in);

	afs_meta_get(&in->meta, m);
	m->owned = in->owned;
	m->uid = default_uid;
	m->gid = default_gid;
	if (in->owner_lost) {
		m->uid = m->gid = 65534; /* nobody */
	} else if (in->owned && x && x->owner_set) {
		m->uid = x->uid;
		m->gid = x->gid;
	}
	m->atime_ns = m->ctime_ns = m->mtime_ns;
	if (x && x->times_set) {
		m->atime_ns = x->atime_ns;
		m->ctime_ns = x->ctime_ns;
	}
}

bool afs_inode_set_meta(struct afs_inode *in, const struct ais_obj_meta *m)
{
	uint64_t old = in->meta.ident;
	bool stale = false;

	afs_meta_set(&in->meta, m);
	if (m->owned)
		afs_inode_set_owner(in, m->uid, m->gid);
	else
		in->owned = in->owner_lost = false;
	afs_inode_set_times(in, m->atime_ns, m->ctime_ns);
	if (!in->have_meta || in->meta.ident != old) {
		stale = in->have_page;
		in->have_page = false;
	}
	in->have_meta = true;
	return stale;
}

uint64_t afs_meta_ident(const struct ais_obj_meta *m)
{
	uint64_t h =
	    ais_mix64(m->version ^ ais_mix64(m->size)) ^
	    ais_mix64((uint64_t)m->mtime_ns) ^
	    ais_mix64((uint64_t)m->written_ns + (uint64_t)m->cksum_type);

	return ais_hash_str(m->cksum, h);
}

void afs_meta_set(struct afs_meta *d, const struct ais_obj_meta *m)
{
	d->size = m->size;
	d->version = m->version;
	d->mtime_ns = m->mtime_ns;
	d->mode = m->mode;
	d->ident = afs_meta_ident(m);
}

void afs_meta_get(const struct afs_meta *d, struct ais_obj_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->size = d->size;
	m->version = d->version;
	m->mtime_ns = d->mtime_ns;
	m->mode = d->mode;
}

struct afs_itable *afs_itable_new(void)
{
	struct afs_itable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = 1024;
	t->by_name = calloc(t->nbuckets, sizeof(*t->by_name));
	t->root = t->by_name ? inode_alloc(t, AFS_ROOT_INO, AFS_DIR, "") : NULL;
	if (!t->root) {
		if (t->blocks)
			munmap(t->blocks, SLAB_BLOCK);
		free(t->by_name);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->next_ino = AFS_ROOT_INO + 1;
	t->root->nlookup = 1; /* the kernel never forgets the root */
	t->count = 1;
	return t;
}

static void ext_free(struct afs_inode *in)
{
	struct afs_iext *x = afs_iext(in);

	if (x) {
		free(x->name);
		free(x->link);
		free(x);
	}
}

static void inode_destroy(struct afs_itable *t, struct afs_inode *in)
{
	pthread_spin_destroy(&in->lock);
	ext_free(in);
	slab_release(t, in);
}

void afs_itable_free(struct afs_itable *t)
{
	struct slab_block *b, *next;
	struct afs_inode *in;
	uint32_t i;

	if (!t)
		return;
	for (b = t->blocks; b; b = next) {
		next = b->next;
		for (i = 0; i < b->used; i++) {
			in =
			    (struct afs_inode *)(b->data + (size_t)i * b->slot);
			if (in->kind)
				ext_free(in);
		}
		munmap(b, SLAB_BLOCK);
	}
	free(t->by_name);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void afs_itable_stats(struct afs_itable *t, size_t *count, size_t *bytes)
{
	pthread_mutex_lock(&t->lock);
	*count = t->count;
	*bytes = t->bytes + t->nbuckets * sizeof(*t->by_name);
	pthread_mutex_unlock(&t->lock);
}

static struct afs_inode *name_lookup(struct afs_itable *t,
				     struct afs_inode *parent, const char *name)
{
	struct afs_inode *in;
	size_t s = name_hash(parent, name) & (t->nbuckets - 1);

	for (in = t->by_name[s]; in; in = in->next_name) {
		if (in->parent == parent && strcmp(iname_of(in), name) == 0)
			return in;
	}
	return NULL;
}

void afs_inode_forget_made(struct afs_inode *dir)
{
	struct afs_iext *x = afs_iext(dir);

	if (!x)
		return;
	afs_inode_lock(dir);
	x->made.gen = 0;
	afs_inode_unlock(dir);
}

/* Frees in if nothing holds it, then walks up to release its parent's ref.
 * Called with the table lock held. */
static void maybe_free(struct afs_itable *t, struct afs_inode *in)
{
	struct afs_inode *parent;

	while (in && in != t->root && in->nlookup == 0 && in->refs == 0) {
		parent = in->parent;
		if (parent && in->hashed)
			afs_inode_forget_made(parent);
		name_remove(t, in);
		t->count--;
		inode_destroy(t, in);
		in = parent;
		if (in)
			in->refs--;
	}
}

/* The inode behind a number the kernel sent, or NULL for a slot that is
 * free (the kernel never sends a number it was told to forget; this
 * catches a bug, not a race). Under the table lock. */
static struct afs_inode *by_nodeid(struct afs_itable *t, uint64_t nodeid)
{
	struct afs_inode *in;

	if (nodeid == AFS_ROOT_INO)
		return t->root;
	in = (struct afs_inode *)(uintptr_t)nodeid;
	return in && in->kind ? in : NULL;
}

struct afs_inode *afs_inode_get(struct afs_itable *t, uint64_t nodeid)
{
	struct afs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = by_nodeid(t, nodeid);
	if (in)
		in->refs++;
	pthread_mutex_unlock(&t->lock);
	return in;
}

struct afs_inode *afs_inode_find(struct afs_itable *t, struct afs_inode *parent,
				 const char *name)
{
	struct afs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = name_lookup(t, parent, name);
	if (in)
		in->refs++;
	pthread_mutex_unlock(&t->lock);
	return in;
}

/* Under the table lock: in holds pages of another write than ident. */
static bool pages_of_other(struct afs_inode *in, uint64_t ident)
{
	bool other;

	if (!ident)
		return false;
	afs_inode_lock(in);
	other = in->have_meta && in->have_page && in->meta.ident != ident;
	afs_inode_unlock(in);
	return other;
}

static struct afs_inode *link_common(struct afs_itable *t,
				     struct afs_inode *parent, const char *name,
				     int kind, uint64_t want, uint64_t ident)
{
	struct afs_inode *in;
	uint64_t ino;

	pthread_mutex_lock(&t->lock);
	in = name_lookup(t, parent, name);
	if (in && (in->kind != kind || pages_of_other(in, ident))) {
		/* The name changed type behind our back (deleted, then
		 * recreated as the other kind elsewhere), or is another
		 * write whose old pages must go with a new inode
		 * (afs_inode_link_ident): a new inode, with a number of its
		 * own while the old one lives. */
		name_remove(t, in);
		if (in->ino == want)
			want = 0;
		in = NULL;
	}
	if (!in) {
		ino = want > AFS_ROOT_INO ? want : t->next_ino;
		in = inode_alloc(t, ino, kind, name);
		if (!in) {
			pthread_mutex_unlock(&t->lock);
			return NULL;
		}
		if (ino == t->next_ino)
			t->next_ino++;
		in->parent = parent;
		parent->refs++;
		name_insert(t, in);
		t->count++;
		maybe_grow(t);
	}
	if (in->nlookup < UINT32_MAX)
		in->nlookup++;
	in->refs++;
	pthread_mutex_unlock(&t->lock);
	return in;
}

struct afs_inode *afs_inode_link(struct afs_itable *t, struct afs_inode *parent,
				 const char *name, int kind)
{
	return link_common(t, parent, name, kind, 0, 0);
}

struct afs_inode *afs_inode_link_ino(struct afs_itable *t,
				     struct afs_inode *parent, const char *name,
				     int kind, uint64_t want)
{
	return link_common(t, parent, name, kind, want, 0);
}

struct afs_inode *afs_inode_link_ident(struct afs_itable *t,
				       struct afs_inode *parent,
				       const char *name, int kind,
				       uint64_t want, uint64_t ident)
{
	return link_common(t, parent, name, kind, want, ident);
}

uint32_t afs_inode_lookups(struct afs_itable *t, struct afs_inode *in)
{
	uint32_t n;

	pthread_mutex_lock(&t->lock);
	n = in->nlookup;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void afs_inode_put(struct afs_itable *t, struct afs_inode *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&t->lock);
	in->refs--;
	maybe_free(t, in);
	pthread_mutex_unlock(&t->lock);
}

void afs_inode_forget(struct afs_itable *t, uint64_t nodeid, uint64_t n)
{
	struct afs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = by_nodeid(t, nodeid);
	if (in && in != t->root && in->nlookup < UINT32_MAX) {
		in->nlookup = n >= in->nlookup ? 0 : in->nlookup - (uint32_t)n;
		maybe_free(t, in);
	}
	pthread_mutex_unlock(&t->lock);
}

bool afs_inode_relink(struct afs_itable *t, struct afs_inode *in)
{
	bool ok;

	pthread_mutex_lock(&t->lock);
	ok = in->hashed;
	if (ok) {
		if (in->nlookup < UINT32_MAX)
			in->nlookup++;
		in->refs++;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void afs_inode_unhash(struct afs_itable *t, struct afs_inode *in)
{
	pthread_mutex_lock(&t->lock);
	name_remove(t, in);
	pthread_mutex_unlock(&t->lock);
}

int afs_inode_move(struct afs_itable *t, struct afs_inode *in,
		   struct afs_inode *newparent, const char *newname)
{
	struct afs_inode *old, *oldparent;
	struct afs_iext *x = afs_inode_ext(in);
	char *name = strdup(newname), *was;

	if (!name || !x) {
		free(name);
		return -ENOMEM;
	}
	pthread_mutex_lock(&t->lock);
	old = name_lookup(t, newparent, newname);
	if (old && old != in)
		name_remove(t, old);
	name_remove(t, in);
	was = x->name;
	x->name = name;
	oldparent = in->parent;
	if (oldparent != newparent) {
		newparent->refs++;
		in->parent = newparent;
		oldparent->refs--;
		maybe_free(t, oldparent);
	}
	name_insert(t, in);
	pthread_mutex_unlock(&t->lock);
	free(was);
	return 0;
}

int afs_inode_path(struct afs_itable *t, struct afs_inode *in, char *buf,
		   size_t len)
{
	return afs_inode_path_split(t, in, buf, len, NULL);
}

/* How much of p's name is in the object names below it: all of it, but
 * for the view of an archive (shards=view: "x.tar.d", a shard inode,
 * stands for the object "x.tar"; a shard directory of shards=dir has the
 * archive's own name, never ending so). */
static size_t key_len(struct afs_inode *p)
{
	const char *name = iname_of(p);
	size_t n = strlen(name), sl = sizeof(AFS_SHARD_VIEW_SUFFIX) - 1;

	if (p->kind == AFS_SHARD && n > sl &&
	    memcmp(name + n - sl, AFS_SHARD_VIEW_SUFFIX, sl) == 0)
		return n - sl;
	return n;
}

int afs_inode_path_split(struct afs_itable *t, struct afs_inode *in, char *buf,
			 size_t len, size_t *shard_end)
{
	struct afs_inode *p;
	size_t total = 0, n;
	int depth = 0;
	bool found = false;
	char *end;

	if (shard_end)
		*shard_end = (size_t)-1;
	pthread_mutex_lock(&t->lock);
	for (p = in; p && p->parent; p = p->parent) {
		total += key_len(p) + (depth ? 1 : 0);
		depth++;
	}
	if (total + 1 > len) {
		pthread_mutex_unlock(&t->lock);
		return -ENAMETOOLONG;
	}
	end = buf + total;
	*end = '\0';
	for (p = in; p && p->parent; p = p->parent) {
		if (p != in)
			*--end = '/';
		n = key_len(p);
		end -= n;
		memcpy(end, iname_of(p), n);
		if (shard_end && !found && p->kind == AFS_SHARD) {
			*shard_end = (size_t)(end - buf) + n;
			found = true;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return depth;
}
