/*
 * libnfsclient: the libnfs-based NFSv3 client of the side-by-side benchmark
 * (bench/cmd/sidebyside). One process runs one workload against one export
 * and prints one line:
 *
 *     RESULT <ops> <seconds>
 *
 * where <seconds> covers the workload only (the MOUNT and the setup before
 * it are not timed). Errors go to stderr with exit status 1.
 *
 * Build (Debian: apt-get install gcc libnfs-dev):
 *     gcc -O2 -Wall -o libnfsclient libnfsclient.c -lnfs
 *
 * Usage: libnfsclient URL WORKLOAD [ARGS]
 *   URL is nfs://127.0.0.1/export?nfsport=P&mountport=M (libnfs then skips
 *   the portmapper). Paths are relative to the export root and start with /.
 *
 *   seqwrite BYTES FILE   create FILE, write it in 1 MiB nfs_write calls
 *                         (libnfs sends UNSTABLE WRITEs), nfs_fsync (COMMIT)
 *   seqread FILE          read FILE in 1 MiB nfs_read calls to the end
 *   randread N FILE       N x nfs_pread of 4 KiB at random 4 KiB-aligned offsets
 *   randwrite N FILE      N x nfs_pwrite of 4 KiB (UNSTABLE), then one COMMIT
 *   create N DIR          mkdir DIR; N x (create O_EXCL, write 4 KiB, close)
 *   stat DIR              readdir DIR untimed, then nfs_stat64 of every entry
 *   list DIR              opendir (READDIRPLUS) and read every entry
 *   meta N DIR            mkdir DIR; N x (mkdir d, rename d -> e, rmdir e)
 *   lock N ANCHOR FILE NLMPORT
 *                         N x NLM4 LOCK (exclusive, non-blocking) + UNLOCK of
 *                         byte 0 of FILE through libnfs's raw NLM calls; with
 *                         ANCHOR=1 a lock on byte 1 is held meanwhile
 *
 * Counts in RESULT: bytes for seq*, I/Os for rand*, files, stats, entries,
 * operations (3 per meta round) and lock+unlock pairs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nlm.h>

#define CHUNK (1 << 20)
#define SMALL 4096

static struct nfs_context *nfs;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "libnfsclient: %s: %s\n", what, detail);
	exit(1);
}

static void check(int rc, const char *what)
{
	if (rc < 0)
		fail(what, nfs_get_error(nfs));
}

static void report(double ops, double t0)
{
	printf("RESULT %.0f %.6f\n", ops, now() - t0);
	fflush(stdout);
}

/* xorshift: the offsets must be the same for every server, not random. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t file_size(const char *path)
{
	struct nfs_stat_64 st;
	check(nfs_stat64(nfs, path, &st), "stat");
	return st.nfs_size;
}

static void seqwrite(uint64_t size, const char *path, char *buf)
{
	struct nfsfh *fh;
	nfs_unlink(nfs, path); /* a leftover from an earlier run */
	check(nfs_creat(nfs, path, 0644, &fh), "creat");
	double t0 = now();
	for (uint64_t done = 0; done < size; done += CHUNK) {
		int n = nfs_write(nfs, fh, CHUNK, buf);
		if (n != CHUNK)
			fail("write", n < 0 ? nfs_get_error(nfs) : "short write");
	}
	check(nfs_fsync(nfs, fh), "fsync");
	check(nfs_close(nfs, fh), "close");
	report(size, t0);
}

static void seqread(const char *path, char *buf)
{
	struct nfsfh *fh;
	check(nfs_open(nfs, path, O_RDONLY, &fh), "open");
	double t0 = now();
	uint64_t total = 0;
	for (;;) {
		int n = nfs_read(nfs, fh, CHUNK, buf);
		check(n, "read");
		if (n == 0)
			break;
		total += n;
	}
	nfs_close(nfs, fh);
	report(total, t0);
}

static void randio(int write, long n, const char *path, char *buf)
{
	struct nfsfh *fh;
	uint64_t blocks = file_size(path) / SMALL;
	if (blocks == 0)
		fail("randio", "file is empty");
	check(nfs_open(nfs, path, write ? O_RDWR : O_RDONLY, &fh), "open");
	double t0 = now();
	for (long i = 0; i < n; i++) {
		uint64_t off = (next_rand() % blocks) * SMALL;
		int got = write ? nfs_pwrite(nfs, fh, off, SMALL, buf) : nfs_pread(nfs, fh, off, SMALL, buf);
		if (got != SMALL)
			fail(write ? "pwrite" : "pread", got < 0 ? nfs_get_error(nfs) : "short transfer");
	}
	if (write)
		check(nfs_fsync(nfs, fh), "fsync");
	nfs_close(nfs, fh);
	report(n, t0);
}

static void create_files(long n, const char *dir, char *buf)
{
	char path[1024];
	check(nfs_mkdir(nfs, dir), "mkdir");
	double t0 = now();
	for (long i = 0; i < n; i++) {
		struct nfsfh *fh;
		snprintf(path, sizeof path, "%s/f%06ld", dir, i);
		check(nfs_create(nfs, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &fh), "create");
		if (nfs_write(nfs, fh, SMALL, buf) != SMALL)
			fail("write", nfs_get_error(nfs));
		check(nfs_close(nfs, fh), "close");
	}
	report(n, t0);
}

/* read_names returns the entries of dir other than . and .. */
static char **read_names(const char *dir, long *count)
{
	struct nfsdir *d;
	struct nfsdirent *e;
	long n = 0, cap = 1024;
	char **names = malloc(cap * sizeof *names);
	check(nfs_opendir(nfs, dir, &d), "opendir");
	while ((e = nfs_readdir(nfs, d)) != NULL) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		if (n == cap)
			names = realloc(names, (cap *= 2) * sizeof *names);
		names[n++] = strdup(e->name);
	}
	nfs_closedir(nfs, d);
	*count = n;
	return names;
}

static void list(const char *dir)
{
	long n;
	double t0 = now();
	read_names(dir, &n);
	report(n, t0);
}

static void stat_files(const char *dir)
{
	long n;
	char path[1024];
	char **names = read_names(dir, &n);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		struct nfs_stat_64 st;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		check(nfs_stat64(nfs, path, &st), "stat");
	}
	report(n, t0);
}

static void meta(long n, const char *dir)
{
	char a[1024], b[1024];
	check(nfs_mkdir(nfs, dir), "mkdir");
	double t0 = now();
	for (long i = 0; i < n; i++) {
		snprintf(a, sizeof a, "%s/d%06ld", dir, i);
		snprintf(b, sizeof b, "%s/e%06ld", dir, i);
		check(nfs_mkdir(nfs, a), "mkdir");
		check(nfs_rename(nfs, a, b), "rename");
		check(nfs_rmdir(nfs, b), "rmdir");
	}
	report(3.0 * n, t0);
}

/*
 * NLM through libnfs's raw RPC layer: libnfs's file API locks only over
 * NFSv4, so the calls are made on a second rpc_context connected straight
 * to the server's NLM port, driven synchronously with poll().
 */
struct nfs_fh_view { /* libnfs's struct nfs_fh, whose definition is private */
	int len;
	char *val;
};

struct waiter {
	int done;
	int status;
	int nlmstat;
	char err[256];
};

static void wait_for(struct rpc_context *rpc, struct waiter *w)
{
	while (!w->done) {
		struct pollfd p = {.fd = rpc_get_fd(rpc), .events = rpc_which_events(rpc)};
		if (poll(&p, 1, 10000) < 0 && errno != EINTR)
			fail("poll", strerror(errno));
		if (rpc_service(rpc, p.revents) < 0)
			fail("rpc_service", rpc_get_error(rpc));
	}
	if (w->status != RPC_STATUS_SUCCESS)
		fail("nlm", w->err);
}

static void on_connect(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct waiter *w = priv;
	(void)rpc;
	w->done = 1;
	w->status = status;
	if (status != RPC_STATUS_SUCCESS)
		snprintf(w->err, sizeof w->err, "connect: %s", data ? (char *)data : "cancelled");
}

static void on_lock(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct waiter *w = priv;
	(void)rpc;
	w->done = 1;
	w->status = status;
	if (status == RPC_STATUS_SUCCESS)
		w->nlmstat = ((NLM4_LOCKres *)data)->status;
	else
		snprintf(w->err, sizeof w->err, "%s", data ? (char *)data : "cancelled");
}

static void on_unlock(struct rpc_context *rpc, int status, void *data, void *priv)
{
	struct waiter *w = priv;
	(void)rpc;
	w->done = 1;
	w->status = status;
	if (status == RPC_STATUS_SUCCESS)
		w->nlmstat = ((NLM4_UNLOCKres *)data)->status;
	else
		snprintf(w->err, sizeof w->err, "%s", data ? (char *)data : "cancelled");
}

static char owner[64];
static char caller[] = "localhost";
static char cookie[] = "tandem-bench";

static void fill_lock(nlm4_lock *l, struct nfs_fh_view *fh, uint64_t off)
{
	l->caller_name = caller;
	l->fh.data.data_len = fh->len;
	l->fh.data.data_val = fh->val;
	l->oh = owner;
	l->svid = getpid();
	l->l_offset = off;
	l->l_len = 1;
}

static void nlm_lock(struct rpc_context *rpc, struct nfs_fh_view *fh, uint64_t off)
{
	struct waiter w = {0};
	NLM4_LOCKargs a = {0};
	a.cookie.data.data_len = sizeof cookie - 1;
	a.cookie.data.data_val = cookie;
	a.exclusive = 1;
	fill_lock(&a.lock, fh, off);
	if (rpc_nlm4_lock_async(rpc, on_lock, &a, &w) < 0)
		fail("nlm lock", rpc_get_error(rpc));
	wait_for(rpc, &w);
	if (w.nlmstat != NLM4_GRANTED) {
		char s[32];
		snprintf(s, sizeof s, "nlm4 stat %d", w.nlmstat);
		fail("nlm lock", s);
	}
}

static void nlm_unlock(struct rpc_context *rpc, struct nfs_fh_view *fh, uint64_t off)
{
	struct waiter w = {0};
	NLM4_UNLOCKargs a = {0};
	a.cookie.data.data_len = sizeof cookie - 1;
	a.cookie.data.data_val = cookie;
	fill_lock(&a.lock, fh, off);
	if (rpc_nlm4_unlock_async(rpc, on_unlock, &a, &w) < 0)
		fail("nlm unlock", rpc_get_error(rpc));
	wait_for(rpc, &w);
	if (w.nlmstat != NLM4_GRANTED) {
		char s[32];
		snprintf(s, sizeof s, "nlm4 stat %d", w.nlmstat);
		fail("nlm unlock", s);
	}
}

static void lock_pairs(long n, int anchor, const char *path, int port, const char *server)
{
	struct nfsfh *f;
	if (nfs_open(nfs, path, O_RDWR, &f) < 0)
		check(nfs_creat(nfs, path, 0644, &f), "creat");
	struct nfs_fh_view *fh = (struct nfs_fh_view *)nfs_get_fh(f);
	if (fh->len <= 0 || fh->len > 64)
		fail("lock", "unexpected file handle layout in this libnfs");
	snprintf(owner, sizeof owner, "libnfsclient-%d", (int)getpid());

	struct rpc_context *rpc = rpc_init_context();
	rpc_set_auth(rpc, libnfs_authunix_create("localhost", 0, 0, 0, NULL));
	struct waiter w = {0};
	if (rpc_connect_port_async(rpc, server, port, NLM_PROGRAM, NLM_V4, on_connect, &w) < 0)
		fail("nlm connect", rpc_get_error(rpc));
	wait_for(rpc, &w);

	if (anchor)
		nlm_lock(rpc, fh, 1);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		nlm_lock(rpc, fh, 0);
		nlm_unlock(rpc, fh, 0);
	}
	report(n, t0);
	if (anchor)
		nlm_unlock(rpc, fh, 1);
	rpc_destroy_context(rpc);
	nfs_close(nfs, f);
}

static long arg_long(int argc, char **argv, int i)
{
	if (i >= argc)
		fail("usage", "missing argument");
	return atol(argv[i]);
}

static const char *arg_str(int argc, char **argv, int i)
{
	if (i >= argc)
		fail("usage", "missing argument");
	return argv[i];
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: libnfsclient URL WORKLOAD [ARGS] (see the comment at the top of libnfsclient.c)\n");
		return 2;
	}
	nfs = nfs_init_context();
	if (nfs == NULL)
		fail("init", "nfs_init_context");
	struct nfs_url *url = nfs_parse_url_dir(nfs, argv[1]);
	if (url == NULL)
		fail("url", nfs_get_error(nfs));
	check(nfs_mount(nfs, url->server, url->path), "mount");

	static char buf[CHUNK];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 31 + (i >> 12));

	const char *w = argv[2];
	if (!strcmp(w, "seqwrite"))
		seqwrite(arg_long(argc, argv, 3), arg_str(argc, argv, 4), buf);
	else if (!strcmp(w, "seqread"))
		seqread(arg_str(argc, argv, 3), buf);
	else if (!strcmp(w, "randread"))
		randio(0, arg_long(argc, argv, 3), arg_str(argc, argv, 4), buf);
	else if (!strcmp(w, "randwrite"))
		randio(1, arg_long(argc, argv, 3), arg_str(argc, argv, 4), buf);
	else if (!strcmp(w, "create"))
		create_files(arg_long(argc, argv, 3), arg_str(argc, argv, 4), buf);
	else if (!strcmp(w, "stat"))
		stat_files(arg_str(argc, argv, 3));
	else if (!strcmp(w, "list"))
		list(arg_str(argc, argv, 3));
	else if (!strcmp(w, "meta"))
		meta(arg_long(argc, argv, 3), arg_str(argc, argv, 4));
	else if (!strcmp(w, "lock"))
		lock_pairs(arg_long(argc, argv, 3), arg_long(argc, argv, 4), arg_str(argc, argv, 5),
			   arg_long(argc, argv, 6), url->server);
	else
		fail("usage", "unknown workload");

	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return 0;
}
