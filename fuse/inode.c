/* The inode table: two chained hash tables (by number, by parent and name)
 * under one mutex. Lookups are short critical sections; no network call is
 * ever made with the table lock held. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "inode.h"

struct afs_itable {
	pthread_mutex_t lock;
	uint64_t next_ino;
	size_t count;
	size_t nbuckets; /* power of two, same for both tables */
	struct afs_inode **by_ino;
	struct afs_inode **by_name;
	struct afs_inode *root;
};

static uint64_t name_hash(uint64_t parent, const char *name)
{
	return ais_hash_str(name, parent);
}

static size_t ino_slot(struct afs_itable *t, uint64_t ino)
{
	return ais_mix64(ino) & (t->nbuckets - 1);
}

static size_t name_slot(struct afs_itable *t, struct afs_inode *in)
{
	return name_hash(in->parent->ino, in->name) & (t->nbuckets - 1);
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

static void ino_insert(struct afs_itable *t, struct afs_inode *in)
{
	size_t s = ino_slot(t, in->ino);

	in->next_ino = t->by_ino[s];
	t->by_ino[s] = in;
}

static void ino_remove(struct afs_itable *t, struct afs_inode *in)
{
	struct afs_inode **pp;

	for (pp = &t->by_ino[ino_slot(t, in->ino)]; *pp;
	     pp = &(*pp)->next_ino) {
		if (*pp == in) {
			*pp = in->next_ino;
			return;
		}
	}
}

/* Doubles both tables when they fill up; on ENOMEM the chains just grow. */
static void maybe_grow(struct afs_itable *t)
{
	struct afs_inode **bi, **bn, *in, *next;
	size_t old = t->nbuckets, i;

	if (t->count < t->nbuckets)
		return;
	bi = calloc(old * 2, sizeof(*bi));
	bn = calloc(old * 2, sizeof(*bn));
	if (!bi || !bn) {
		free(bi);
		free(bn);
		return;
	}
	t->nbuckets = old * 2;
	for (i = 0; i < old; i++) {
		for (in = t->by_ino[i]; in; in = next) {
			next = in->next_ino;
			in->next_ino = bi[ino_slot(t, in->ino)];
			bi[ino_slot(t, in->ino)] = in;
		}
		for (in = t->by_name[i]; in; in = next) {
			next = in->next_name;
			in->next_name = bn[name_slot(t, in)];
			bn[name_slot(t, in)] = in;
		}
	}
	free(t->by_ino);
	free(t->by_name);
	t->by_ino = bi;
	t->by_name = bn;
}

static struct afs_inode *inode_alloc(uint64_t ino, int kind, const char *name)
{
	size_t len = strlen(name);
	struct afs_inode *in = calloc(1, sizeof(*in) + len + 1);

	if (!in)
		return NULL;
	memcpy(in->iname, name, len + 1);
	in->name = in->iname;
	in->ino = ino;
	in->kind = (uint8_t)kind;
	pthread_spin_init(&in->lock, PTHREAD_PROCESS_PRIVATE);
	return in;
}

void afs_meta_set(struct afs_meta *d, const struct ais_obj_meta *m)
{
	uint64_t h =
	    ais_mix64(m->version ^ ais_mix64(m->size)) ^
	    ais_mix64((uint64_t)m->mtime_ns) ^
	    ais_mix64((uint64_t)m->written_ns + (uint64_t)m->cksum_type);

	d->size = m->size;
	d->version = m->version;
	d->mtime_ns = m->mtime_ns;
	d->mode = m->mode;
	d->ident = ais_hash_str(m->cksum, h);
}

void afs_meta_get(const struct afs_meta *d, struct ais_obj_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->size = d->size;
	m->version = d->version;
	m->mtime_ns = d->mtime_ns;
	m->mode = d->mode;
}

static void name_free(struct afs_inode *in)
{
	if (in->name != in->iname)
		free(in->name);
}

struct afs_itable *afs_itable_new(void)
{
	struct afs_itable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = 1024;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_name = calloc(t->nbuckets, sizeof(*t->by_name));
	t->root = inode_alloc(AFS_ROOT_INO, AFS_DIR, "");
	if (!t->by_ino || !t->by_name || !t->root) {
		free(t->by_ino);
		free(t->by_name);
		free(t->root);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->next_ino = AFS_ROOT_INO + 1;
	t->root->nlookup = 1; /* the kernel never forgets the root */
	ino_insert(t, t->root);
	t->count = 1;
	return t;
}

static void inode_destroy(struct afs_inode *in)
{
	pthread_spin_destroy(&in->lock);
	name_free(in);
	free(in->link);
	free(in);
}

void afs_itable_free(struct afs_itable *t)
{
	size_t i;
	struct afs_inode *in, *next;

	if (!t)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		for (in = t->by_ino[i]; in; in = next) {
			next = in->next_ino;
			inode_destroy(in);
		}
	}
	free(t->by_ino);
	free(t->by_name);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static struct afs_inode *ino_lookup(struct afs_itable *t, uint64_t ino)
{
	struct afs_inode *in;

	for (in = t->by_ino[ino_slot(t, ino)]; in; in = in->next_ino) {
		if (in->ino == ino)
			return in;
	}
	return NULL;
}

static struct afs_inode *name_lookup(struct afs_itable *t,
				     struct afs_inode *parent, const char *name)
{
	struct afs_inode *in;
	size_t s = name_hash(parent->ino, name) & (t->nbuckets - 1);

	for (in = t->by_name[s]; in; in = in->next_name) {
		if (in->parent == parent && strcmp(in->name, name) == 0)
			return in;
	}
	return NULL;
}

/* Frees in if nothing holds it, then walks up to release its parent's ref.
 * Called with the table lock held. */
static void maybe_free(struct afs_itable *t, struct afs_inode *in)
{
	struct afs_inode *parent;

	while (in && in != t->root && in->nlookup == 0 && in->refs == 0) {
		parent = in->parent;
		name_remove(t, in);
		ino_remove(t, in);
		t->count--;
		inode_destroy(in);
		in = parent;
		if (in)
			in->refs--;
	}
}

struct afs_inode *afs_inode_get(struct afs_itable *t, uint64_t ino)
{
	struct afs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = ino_lookup(t, ino);
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

struct afs_inode *afs_inode_link(struct afs_itable *t, struct afs_inode *parent,
				 const char *name, int kind)
{
	return afs_inode_link_ino(t, parent, name, kind, 0);
}

struct afs_inode *afs_inode_link_ino(struct afs_itable *t,
				     struct afs_inode *parent, const char *name,
				     int kind, uint64_t want)
{
	uint64_t ino;

	struct afs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = name_lookup(t, parent, name);
	if (in && in->kind != kind) {
		/* The name changed type behind our back (deleted, then
		 * recreated as the other kind elsewhere): a new inode. */
		name_remove(t, in);
		in = NULL;
	}
	if (!in) {
		ino = want > AFS_ROOT_INO && !ino_lookup(t, want) ? want
								  : t->next_ino;
		in = inode_alloc(ino, kind, name);
		if (!in) {
			pthread_mutex_unlock(&t->lock);
			return NULL;
		}
		if (ino == t->next_ino)
			t->next_ino++;
		in->parent = parent;
		parent->refs++;
		ino_insert(t, in);
		name_insert(t, in);
		t->count++;
		maybe_grow(t);
	}
	in->nlookup++;
	in->refs++;
	pthread_mutex_unlock(&t->lock);
	return in;
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

void afs_inode_forget(struct afs_itable *t, uint64_t ino, uint64_t n)
{
	struct afs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = ino_lookup(t, ino);
	if (in && in != t->root) {
		in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
		maybe_free(t, in);
	}
	pthread_mutex_unlock(&t->lock);
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
	char *name = strdup(newname);

	if (!name)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	old = name_lookup(t, newparent, newname);
	if (old && old != in)
		name_remove(t, old);
	name_remove(t, in);
	name_free(in);
	in->name = name;
	oldparent = in->parent;
	if (oldparent != newparent) {
		newparent->refs++;
		in->parent = newparent;
		oldparent->refs--;
		maybe_free(t, oldparent);
	}
	name_insert(t, in);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int afs_inode_path(struct afs_itable *t, struct afs_inode *in, char *buf,
		   size_t len)
{
	return afs_inode_path_split(t, in, buf, len, NULL);
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
		total += strlen(p->name) + (depth ? 1 : 0);
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
		n = strlen(p->name);
		end -= n;
		memcpy(end, p->name, n);
		if (shard_end && !found && p->kind == AFS_SHARD) {
			*shard_end = (size_t)(end - buf) + n;
			found = true;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return depth;
}
