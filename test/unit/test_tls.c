/* Unit: TLS sessions over real sockets (a socketpair, one thread a side):
 * certificates made by the code `ais local up` uses, the handshake with
 * and without a client certificate, bytes through both ways, the file
 * path (ais_tls_sendfile), a certificate of another CA refused on either
 * side, a plain-text peer, key file rules, reload, and sessions by fd. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls.h"
#include "util.h"

static char dir[] = "/tmp/ais-test-tls-XXXXXX";

static const char *path(const char *name)
{
	static __thread char buf[64][256];
	static __thread int i;
	char *p = buf[i++ % 64];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void make_certs(void)
{
	char msg[AIS_ERRMSG_LEN];
	const char *sans[] = {"127.0.0.1", "localhost", "::1"};

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(
	    ais_tls_make_ca(path("ca.pem"), path("ca.key"), "test CA", 30, msg),
	    0);
	ck_assert_int_eq(ais_tls_make_cert(path("ca.pem"), path("ca.key"),
					   path("n1.pem"), path("n1.key"),
					   "node-1", sans, 3, 30, msg),
			 0);
	ck_assert_int_eq(ais_tls_make_cert(path("ca.pem"), path("ca.key"),
					   path("n2.pem"), path("n2.key"),
					   "node-2", sans, 1, 30, msg),
			 0);
	/* Another cluster's. */
	ck_assert_int_eq(ais_tls_make_ca(path("oca.pem"), path("oca.key"),
					 "other CA", 30, msg),
			 0);
	ck_assert_int_eq(ais_tls_make_cert(path("oca.pem"), path("oca.key"),
					   path("o1.pem"), path("o1.key"),
					   "node-1", sans, 1, 30, msg),
			 0);
}

static struct ais_tls *cfg(enum ais_tls_role role, const char *ca,
			   const char *cert, const char *key)
{
	struct ais_tls_files f = {ca ? path(ca) : NULL,
				  cert ? path(cert) : NULL,
				  key ? path(key) : NULL};
	struct ais_tls *t = NULL;
	char msg[AIS_ERRMSG_LEN];
	int rc = ais_tls_new(role, &f, &t, msg);

	ck_assert_msg(rc == 0, "ais_tls_new: %s", msg);
	return t;
}

struct side {
	struct ais_tls *t;
	int fd;
	int rc;
	bool node;
	char msg[AIS_ERRMSG_LEN];
	size_t echo; /* bytes to read and send back */
	struct ais_tls_conn *c;
};

/* One side's handshake, then (server) reads echo bytes and sends them
 * back. */
static void *run_side(void *arg)
{
	struct side *s = arg;
	uint8_t *buf;
	size_t got = 0;

	s->c = ais_tls_conn_new(s->t);
	s->rc = ais_tls_handshake_fd(s->c, s->fd, 5000, s->msg);
	if (s->rc)
		return NULL;
	s->node = ais_tls_conn_peer_is_node(s->c);
	if (!s->echo)
		return NULL;
	buf = malloc(s->echo);
	while (got < s->echo) {
		ssize_t n =
		    ais_tls_recv(s->c, s->fd, buf + got, s->echo - got, 5000);

		if (n < 0) {
			s->rc = (int)n;
			free(buf);
			return NULL;
		}
		got += (size_t)n;
	}
	s->rc = ais_tls_send(s->c, s->fd, buf, got, 5000);
	free(buf);
	return NULL;
}

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

/* Handshake between server config st and client config ct; echo bytes
 * from the client through the server and back. */
static void handshake(struct ais_tls *st, struct ais_tls *ct, struct side *srv,
		      struct side *cli, size_t echo)
{
	pthread_t a, b;
	int sv[2];

	pair(sv);
	memset(srv, 0, sizeof(*srv));
	memset(cli, 0, sizeof(*cli));
	srv->t = st;
	srv->fd = sv[0];
	srv->echo = echo;
	cli->t = ct;
	cli->fd = sv[1];
	pthread_create(&a, NULL, run_side, srv);
	pthread_create(&b, NULL, run_side, cli);
	pthread_join(b, NULL);
	if (cli->rc)
		shutdown(sv[1], SHUT_RDWR); /* the server's wait ends */
	if (!cli->rc && echo) {
		uint8_t *out = malloc(echo), *in = malloc(echo);
		size_t got = 0;

		for (size_t i = 0; i < echo; i++)
			out[i] = (uint8_t)(i * 7 + (i >> 9));
		ck_assert_int_eq(ais_tls_send(cli->c, cli->fd, out, echo, 5000),
				 0);
		while (got < echo) {
			ssize_t n = ais_tls_recv(cli->c, cli->fd, in + got,
						 echo - got, 5000);

			ck_assert_int_gt(n, 0);
			got += (size_t)n;
		}
		ck_assert_mem_eq(in, out, echo);
		free(in);
		free(out);
	}
	pthread_join(a, NULL);
	ais_tls_conn_free(srv->c);
	ais_tls_conn_free(cli->c);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(test_handshake_and_bytes)
{
	struct ais_tls *st = cfg(AIS_TLS_SERVER, "ca.pem", "n1.pem", "n1.key");
	struct ais_tls *plain = cfg(AIS_TLS_CLIENT, "ca.pem", NULL, NULL);
	struct ais_tls *node =
	    cfg(AIS_TLS_CLIENT, "ca.pem", "n2.pem", "n2.key");
	struct side s, c;
	char name[256];

	/* A client without a certificate: served, not a node. */
	handshake(st, plain, &s, &c, 3 << 20);
	ck_assert_msg(c.rc == 0, "client: %s", c.msg);
	ck_assert_msg(s.rc == 0, "server: %s", s.msg);
	ck_assert(!s.node);
	ck_assert(c.node); /* the client saw the node's certificate */
	/* A node calling a node: both sides see a node. */
	handshake(st, node, &s, &c, 1);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	ck_assert(s.node);
	ais_tls_describe(st, name, sizeof(name));
	ck_assert_ptr_nonnull(strstr(name, "node-1"));
	ais_tls_free(st);
	ais_tls_free(plain);
	ais_tls_free(node);
}
END_TEST

START_TEST(test_other_ca_refused)
{
	struct ais_tls *st = cfg(AIS_TLS_SERVER, "ca.pem", "n1.pem", "n1.key");
	struct ais_tls *ost =
	    cfg(AIS_TLS_SERVER, "oca.pem", "o1.pem", "o1.key");
	struct ais_tls *plain = cfg(AIS_TLS_CLIENT, "ca.pem", NULL, NULL);
	struct ais_tls *imp =
	    cfg(AIS_TLS_CLIENT, "oca.pem", "o1.pem", "o1.key");
	struct side s, c;

	/* A node of another CA, posing as this cluster's: the client
	 * refuses it. */
	handshake(ost, plain, &s, &c, 0);
	ck_assert_int_eq(c.rc, -EACCES);
	ck_assert_msg(strstr(c.msg, "certificate verify failed"), "%s", c.msg);
	/* A client showing another CA's certificate: the node refuses it
	 * (a certificate shown must verify). */
	handshake(st, imp, &s, &c, 0);
	ck_assert_int_ne(s.rc, 0);
	ck_assert_int_ne(c.rc, 0);
	ais_tls_free(st);
	ais_tls_free(ost);
	ais_tls_free(plain);
	ais_tls_free(imp);
}
END_TEST

/* A certificate the cluster's CA signed that is not a node's (no
 * OU=aisfs node: what a CA that also signs other things would issue) is
 * not taken as a node's by either side. Made with the openssl program. */
START_TEST(test_not_a_node)
{
	char cmd[2048];
	struct ais_tls *st, *plain, *corp;
	struct side s, c;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl ecparam -name prime256v1 -genkey -noout "
		 "-out corp.key 2>/dev/null && chmod 600 corp.key && "
		 "openssl req -new -key corp.key -subj /O=aisfs/CN=corp "
		 "-out corp.csr && openssl x509 -req -in corp.csr -CA ca.pem "
		 "-CAkey ca.key -CAcreateserial -days 2 -out corp.pem "
		 "2>/dev/null",
		 dir);
	ck_assert_int_eq(system(cmd), 0);
	st = cfg(AIS_TLS_SERVER, "ca.pem", "corp.pem", "corp.key");
	plain = cfg(AIS_TLS_CLIENT, "ca.pem", NULL, NULL);
	/* Posing as a node: the client refuses it. */
	handshake(st, plain, &s, &c, 0);
	ck_assert_int_eq(c.rc, -EACCES);
	ck_assert_msg(strstr(c.msg, "application verification failure"), "%s",
		      c.msg);
	ais_tls_free(st);
	/* Shown by a client to a node: refused. */
	st = cfg(AIS_TLS_SERVER, "ca.pem", "n1.pem", "n1.key");
	corp = cfg(AIS_TLS_CLIENT, "ca.pem", "corp.pem", "corp.key");
	handshake(st, corp, &s, &c, 0);
	ck_assert_int_ne(s.rc, 0);
	ck_assert(!s.node);
	ais_tls_free(st);
	ais_tls_free(plain);
	ais_tls_free(corp);
}
END_TEST

/* A plain-text peer (a frame, no ClientHello) gets an error, not data. */
START_TEST(test_plain_peer)
{
	struct ais_tls *st = cfg(AIS_TLS_SERVER, "ca.pem", "n1.pem", "n1.key");
	struct ais_tls_conn *c = ais_tls_conn_new(st);
	char msg[AIS_ERRMSG_LEN];
	uint8_t junk[64], back[64];
	int sv[2], rc;

	memset(junk, 'A', sizeof(junk));
	pair(sv);
	ck_assert_int_eq(write(sv[1], junk, sizeof(junk)), sizeof(junk));
	rc = ais_tls_handshake_fd(c, sv[0], 2000, msg);
	ck_assert_int_eq(rc, -EPROTO);
	/* What went back is an alert at most: never our bytes. */
	close(sv[0]);
	ck_assert_int_lt(read(sv[1], back, sizeof(back)), 10);
	close(sv[1]);
	ais_tls_conn_free(c);
	ais_tls_free(st);
}
END_TEST

static void *serve_file(void *arg)
{
	struct side *s = arg;

	s->c = ais_tls_conn_new(s->t);
	s->rc = ais_tls_handshake_fd(s->c, s->fd, 5000, s->msg);
	if (!s->rc)
		s->rc = ais_tls_sendfile(s->c, s->fd, (int)s->echo, 100,
					 1 << 20, 5000);
	return NULL;
}

START_TEST(test_sendfile)
{
	struct ais_tls *st = cfg(AIS_TLS_SERVER, "ca.pem", "n1.pem", "n1.key");
	struct ais_tls *ct = cfg(AIS_TLS_CLIENT, "ca.pem", NULL, NULL);
	struct ais_tls_conn *c = ais_tls_conn_new(ct);
	uint8_t *data = malloc((1 << 20) + 100), *in = malloc(1 << 20);
	struct side s = {.t = st};
	char msg[AIS_ERRMSG_LEN];
	size_t got = 0;
	pthread_t th;
	int sv[2], fd;

	for (size_t i = 0; i < (1 << 20) + 100; i++)
		data[i] = (uint8_t)(i * 13 + 5);
	fd = open(path("data"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(write(fd, data, (1 << 20) + 100), (1 << 20) + 100);
	pair(sv);
	s.fd = sv[0];
	s.echo = (size_t)fd;
	pthread_create(&th, NULL, serve_file, &s);
	ck_assert_int_eq(ais_tls_handshake_fd(c, sv[1], 5000, msg), 0);
	while (got < (1 << 20)) {
		ssize_t n =
		    ais_tls_recv(c, sv[1], in + got, (1 << 20) - got, 5000);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	pthread_join(th, NULL);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_mem_eq(in, data + 100, 1 << 20);
	/* Past the file's end: -ENODATA. */
	ck_assert_int_eq(
	    ais_tls_sendfile(s.c, sv[0], fd, (1 << 20) + 100, 1000, 1000),
	    -ENODATA);
	/* The peer closes: -ECONNRESET, not a hang. */
	close(sv[0]);
	ck_assert_int_eq(ais_tls_recv(c, sv[1], in, 16, 2000), -ECONNRESET);
	close(sv[1]);
	close(fd);
	ais_tls_conn_free(s.c);
	ais_tls_conn_free(c);
	ais_tls_free(st);
	ais_tls_free(ct);
	free(data);
	free(in);
}
END_TEST

START_TEST(test_files_and_reload)
{
	struct ais_tls_files f = {path("ca.pem"), path("n1.pem"),
				  path("n1.key")};
	struct ais_tls_files nokey = {path("ca.pem"), path("n1.pem"), NULL};
	struct ais_tls_files wrong = {path("ca.pem"), path("n1.pem"),
				      path("n2.key")};
	struct ais_tls_files noca = {path("nope.pem"), NULL, NULL};
	struct ais_tls *t;
	char msg[AIS_ERRMSG_LEN], name[256];
	int64_t left;

	ck_assert_int_eq(ais_tls_new(AIS_TLS_SERVER, &nokey, &t, msg), -EINVAL);
	ck_assert_int_eq(ais_tls_new(AIS_TLS_SERVER, &wrong, &t, msg), -EINVAL);
	ck_assert_msg(strstr(msg, "is not the key of"), "%s", msg);
	ck_assert_int_eq(ais_tls_new(AIS_TLS_CLIENT, &noca, &t, msg), -ENOENT);
	ck_assert_msg(strstr(msg, "nope.pem"), "%s", msg);
	chmod(path("n1.key"), 0644);
	ck_assert_int_eq(ais_tls_new(AIS_TLS_SERVER, &f, &t, msg), -EPERM);
	ck_assert_msg(strstr(msg, "chmod 600"), "%s", msg);
	chmod(path("n1.key"), 0600);
	ck_assert_msg(ais_tls_new(AIS_TLS_SERVER, &f, &t, msg) == 0, "%s", msg);
	/* A renewed certificate is taken on reload; a broken one is not,
	 * and the old one stays. */
	{
		const char *sans[] = {"127.0.0.1"};

		ck_assert_int_eq(
		    ais_tls_make_cert(path("ca.pem"), path("ca.key"),
				      path("n1.pem"), path("n1.key"),
				      "node-1-renewed", sans, 1, 30, msg),
		    0);
	}
	ck_assert_int_eq(ais_tls_reload(t, msg), 0);
	ais_tls_describe(t, name, sizeof(name));
	ck_assert_ptr_nonnull(strstr(name, "node-1-renewed"));
	{
		FILE *fp = fopen(path("n1.pem"), "w");

		fputs("not a certificate\n", fp);
		fclose(fp);
	}
	ck_assert_int_lt(ais_tls_reload(t, msg), 0);
	ais_tls_describe(t, name, sizeof(name));
	ck_assert_ptr_nonnull(strstr(name, "node-1-renewed"));
	ais_tls_free(t);
	left = ais_tls_cert_seconds_left(path("n2.pem"), msg);
	ck_assert_int_gt(left, 29 * 86400);
	ck_assert_int_le(left, 30 * 86400);
	{
		const char *bad[] = {"a,b"};

		ck_assert_int_eq(ais_tls_make_cert(path("ca.pem"),
						   path("ca.key"),
						   path("x.pem"), path("x.key"),
						   "x", bad, 1, 1, msg),
				 -EINVAL);
	}
	{
		struct stat st;

		ck_assert_int_eq(stat(path("ca.key"), &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0600);
	}
}
END_TEST

START_TEST(test_fd_table)
{
	struct ais_tls *ct = cfg(AIS_TLS_CLIENT, "ca.pem", NULL, NULL);
	struct ais_tls_conn *c = ais_tls_conn_new(ct);
	int fd = dup(0);

	ck_assert_ptr_null(ais_tls_fd_get(fd));
	ck_assert_int_eq(ais_tls_fd_set(fd, c), 0);
	ck_assert_ptr_eq(ais_tls_fd_get(fd), c);
	ais_tls_fd_close(fd); /* frees c */
	ck_assert_ptr_null(ais_tls_fd_get(fd));
	ck_assert_int_eq(ais_tls_fd_set(1 << 20, NULL), -EMFILE);
	ais_tls_free(ct);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_unchecked_fixture(tc, make_certs, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_handshake_and_bytes);
	tcase_add_test(tc, test_other_ca_refused);
	tcase_add_test(tc, test_plain_peer);
	tcase_add_test(tc, test_not_a_node);
	tcase_add_test(tc, test_sendfile);
	tcase_add_test(tc, test_fd_table);
	tcase_add_test(tc, test_files_and_reload);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			failed++;
	}
	return failed ? 1 : 0;
}
