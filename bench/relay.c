/*
 * relais-bench-relay: the hub's media relay against rtpengine and against a bare kernel
 * forwarder, with the same generated traffic.
 *
 *   relais-bench-relay [--calls N] [--seconds S] [--warmup S] [--threads T] [--sockets K]
 *                      [--tick-us U] [--rtpengine PATH | --no-rtpengine] [--no-baseline] [--pin]
 *
 * Traffic: N two-way calls at 50 packets/s each way (20 ms Opus frames): 100 N packets/s
 * offered, each relayed once. Packets are SRTP-shaped: a 12-byte RTP header, 60-120 bytes
 * of payload (varying per packet) and a 16-byte tag; the payload starts with the call, the
 * direction, a sequence number and the send time. One generator thread paces the calls
 * (their 20 ms periods spread evenly) from K UDP sockets per side: call i's leg A sends from
 * side-A socket i % K, leg B from side-B socket i % K (legs latch per address, so calls may
 * share one). Every U microseconds it sends what is due, in sendmmsg batches of at most 8
 * per socket stamped just before the call, and reads what came back with recvmmsg. Towards
 * the relay each leg also proves itself as a real end does (rl_latch.h): a latch packet from
 * its socket before its first RTP packet, two more 40 ms apart, then one every 2 s, in the
 * same batches (about 1 % more packets at 1,000 calls). The relay's CPU includes checking
 * them; the baseline and rtpengine are not sent them, as they have no use for them.
 *
 * Added latency is the kernel receive timestamp of the relayed packet (SO_TIMESTAMPNS,
 * taken when the forwarder's send enters the loopback device) minus the send stamp, both
 * CLOCK_REALTIME: so it does not include the generator's own delay in reading.
 *
 * Forwarders, one after the other in one run:
 *   baseline   one thread: recvfrom, read the SSRC, sendto the other side; no batching,
 *              no table: what the kernel alone costs per packet
 *   relais     hub/relay.c in this process (rl_relay_open, T threads)
 *   rtpengine  the Debian daemon, userspace only (--table=-1), driven over its ng control
 *              protocol (bencode over UDP): per call an "offer" and an "answer" with a plain
 *              RTP/AVP SDP; the ports it allocates are read from the reply SDPs by string
 *              search for "m=audio " and "c=IN IP4 ". Plain RTP, so it forwards without
 *              touching the payload, as the relay does with SRTP.
 * CPU per packet is the forwarder's CPU time over the measured window (relay threads only,
 * found by their name in /proc/self/task/<tid>/stat; rtpengine's whole process from
 * /proc/<pid>/stat) divided by the packets delivered in that window. The generator's CPU is
 * never counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "rl_addr.h"
#include "rl_err.h"
#include "rl_latch.h"
#include "rl_log.h"

#define PERIOD_NS 20000000ull /* 20 ms: 50 packets/s per direction */
#define GBATCH    8           /* packets per generator sendmmsg */
#define RBATCH    64
#define PKT_MAX   160
#define MAGIC     0x524c424eu /* "RLBN" */
#define HIST_US   200000      /* latency histogram: 1 us buckets up to 200 ms */
#define MAXK      256

struct opts {
	unsigned calls, seconds, warmup, threads, sockets, tick_us;
	const char *rtpengine;
	int baseline, pin;
};

/* With --pin the generator runs on CPU 0 and every forwarder on the other CPUs. Off by
 * default: on the 2-vCPU VM of docs/benchmarks.md it made latency worse (a pinned forwarder
 * sleeps on an otherwise idle vCPU, and waking that vCPU goes through the host). */
static cpu_set_t fwd_cpus;
static int pinning;

static void pin_fwd(pid_t tid)
{
	if (pinning)
		sched_setaffinity(tid, sizeof(fwd_cpus), &fwd_cpus);
}

/* ---- small helpers --------------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int udp_socket(struct sockaddr_in *bound)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), buf = 4 << 20, one = 1;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("socket/bind");
		exit(1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	getsockname(fd, (struct sockaddr *)&a, &al);
	if (bound != NULL)
		*bound = a;
	return fd;
}

/* stat_cpu_ns: utime + stime of /proc/<path>/stat in ns, or 0. */
static uint64_t stat_cpu_ns(const char *path)
{
	char buf[1024];
	unsigned long long ut = 0, st = 0;
	FILE *f = fopen(path, "r");
	size_t n;
	char *p;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* fields after the command: state(3) ... utime(14) stime(15) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* threads_cpu_ns: CPU of this process's threads whose name starts with prefix (and, with
 * pin set, moves them to the forwarder CPUs). */
static uint64_t threads_cpu_ns_pin(const char *prefix, int pin)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	uint64_t sum = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300], comm[64] = "";
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) == NULL)
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		sum += stat_cpu_ns(path);
		if (pin)
			pin_fwd((pid_t)atoi(e->d_name));
	}
	closedir(d);
	return sum;
}

static uint64_t threads_cpu_ns(const char *prefix)
{
	return threads_cpu_ns_pin(prefix, 0);
}

/* ---- the generator ---------------------------------------------------------------------- */

struct gsock {
	int fd;
	struct sockaddr_in addr;
	unsigned n;
	int dir;
	uint8_t rtp[GBATCH]; /* 1: an RTP packet (stamped, counted), 0: a latch packet */
	struct mmsghdr m[GBATCH];
	struct iovec iov[GBATCH];
	uint8_t buf[GBATCH][PKT_MAX];
	struct sockaddr_in dst[GBATCH];
};

struct gcall {
	struct sockaddr_in to[2]; /* where leg A (0) and leg B (1) send */
	uint32_t ssrc[2];
	uint8_t key[2][RL_LATCH_KEY_LEN]; /* each leg's latch secret */
	struct rl_latch_tx proof[2];
};

struct phase_result {
	const char *name;
	uint64_t tx_win, rx_win, rx_in_window, cpu_ns, gen_cpu_ns, send_err, stray;
	uint64_t p50_us, p99_us, max_us;
	double seconds;
	int ok;
};

struct gen {
	const struct opts *o;
	unsigned k;
	struct gsock *side[2]; /* K sockets each */
	struct gcall *calls;
	int ep;
	int latch;       /* the legs prove themselves (towards the relay) */
	uint64_t now_us; /* this tick, for the proofs' schedule */
	uint8_t phase;
	uint32_t *hist;
	/* receive batch */
	struct mmsghdr rm[RBATCH];
	struct iovec riov[RBATCH];
	uint8_t rbuf[RBATCH][2048];
	char rctl[RBATCH][64];
	/* per phase */
	uint64_t tx_win, rx_win, rx_total, send_err, stray, lat_max_ns;
};

static uint32_t pkt_size(unsigned call, uint64_t seq, int dir)
{
	uint32_t h = (uint32_t)(call * 2654435761u) ^ (uint32_t)(seq * 40503u) ^ (uint32_t)dir * 0x9e3779b9u;
	h ^= h >> 13;
	h *= 0x5bd1e995u;
	h ^= h >> 15;
	return 12 + 60 + h % 61 + 16; /* RTP header, Opus payload 60..120, SRTP tag */
}

static void gen_flush(struct gen *g, struct gsock *s)
{
	uint64_t now = wall_ns();
	unsigned sent = 0;

	for (unsigned i = 0; i < s->n; i++) {
		uint8_t *b = s->buf[i];
		for (int k = 0; k < 8 && s->rtp[i]; k++)
			b[27 + k] = (uint8_t)(now >> (56 - 8 * k));
	}
	while (sent < s->n) {
		int r = sendmmsg(s->fd, s->m + sent, s->n - sent, 0);
		if (r > 0) {
			for (int i = 0; i < r; i++)
				if (s->rtp[sent + (unsigned)i] && s->buf[sent + (unsigned)i][26])
					g->tx_win++;
			sent += (unsigned)r;
		} else {
			g->send_err++;
			sent++;
		}
	}
	s->n = 0;
}

/* gen_queue queues buffer slot i of s (len bytes) for (call, dir)'s destination. */
static void gen_queue(struct gen *g, struct gsock *s, unsigned i, size_t len, unsigned call, int dir)
{
	s->iov[i].iov_base = s->buf[i];
	s->iov[i].iov_len = len;
	s->dst[i] = g->calls[call].to[dir];
	s->m[i].msg_hdr = (struct msghdr){
	    .msg_name = &s->dst[i], .msg_namelen = sizeof(s->dst[i]), .msg_iov = &s->iov[i], .msg_iovlen = 1};
	if (++s->n == GBATCH)
		gen_flush(g, s);
}

/* gen_prove queues (call, dir)'s latch packet when one is due, as a real end sends it. */
static void gen_prove(struct gen *g, unsigned call, int dir)
{
	struct gcall *c = &g->calls[call];
	struct gsock *s = &g->side[dir][call % g->k];

	if (!g->latch || !rl_latch_tx_due(&c->proof[dir], g->now_us))
		return;
	rl_latch_tx_next(&c->proof[dir], s->buf[s->n], c->ssrc[dir], c->key[dir], g->now_us);
	s->rtp[s->n] = 0;
	gen_queue(g, s, s->n, RL_LATCH_LEN, call, dir);
}

/* gen_emit queues packet seq of (call, dir), after its proof when one is due; win: sent
 * inside the measured window. */
static void gen_emit(struct gen *g, unsigned call, int dir, uint64_t seq, int win)
{
	gen_prove(g, call, dir);
	struct gsock *s = &g->side[dir][call % g->k];
	unsigned i = s->n;
	uint8_t *b = s->buf[i];
	uint32_t len = pkt_size(call, seq, dir);

	b[0] = 0x80;
	b[1] = 111;
	b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
	put32(b + 4, (uint32_t)(seq * 960u));
	put32(b + 8, g->calls[call].ssrc[dir]);
	put32(b + 12, MAGIC);
	b[16] = g->phase;
	put32(b + 17, call);
	b[21] = (uint8_t)dir;
	put32(b + 22, (uint32_t)seq);
	b[26] = (uint8_t)win;
	/* 27..34: send time, written at flush; the rest is opaque "ciphertext" */
	for (uint32_t k = 35; k < len; k++)
		b[k] = (uint8_t)(k * 31 + seq);
	s->rtp[i] = 1;
	gen_queue(g, s, i, len, call, dir);
}

static void gen_recv(struct gen *g, struct gsock *s)
{
	for (;;) {
		for (unsigned i = 0; i < RBATCH; i++) {
			g->riov[i] = (struct iovec){g->rbuf[i], sizeof(g->rbuf[i])};
			g->rm[i].msg_hdr = (struct msghdr){.msg_iov = &g->riov[i],
			                                   .msg_iovlen = 1,
			                                   .msg_control = g->rctl[i],
			                                   .msg_controllen = sizeof(g->rctl[i])};
		}
		int n = recvmmsg(s->fd, g->rm, RBATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			const uint8_t *b = g->rbuf[i];
			uint64_t rx_ns = 0, tx_ns = 0;
			if (g->rm[i].msg_len < 35 || get32(b + 12) != MAGIC || b[16] != g->phase) {
				g->stray++;
				continue;
			}
			g->rx_total++;
			if (!b[26])
				continue;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&g->rm[i].msg_hdr); c != NULL;
			     c = CMSG_NXTHDR(&g->rm[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rx_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
				}
			if (rx_ns == 0)
				rx_ns = wall_ns();
			for (int k = 0; k < 8; k++)
				tx_ns = tx_ns << 8 | b[27 + k];
			uint64_t lat = rx_ns > tx_ns ? rx_ns - tx_ns : 0;
			if (lat > g->lat_max_ns)
				g->lat_max_ns = lat;
			uint64_t us = lat / 1000u;
			g->hist[us < HIST_US ? us : HIST_US]++;
			g->rx_win++;
		}
	}
}

static uint64_t hist_pct(const uint32_t *h, uint64_t total, double pct)
{
	uint64_t want = (uint64_t)((double)total * pct / 100.0), acc = 0;
	for (uint64_t i = 0; i <= HIST_US; i++)
		if ((acc += h[i]) > want)
			return i;
	return HIST_US;
}

/* gen_run drives one phase; cpu() samples the forwarder's CPU at the window's edges. */
static void gen_run(struct gen *g, struct phase_result *res, uint64_t (*cpu)(void *), void *arg)
{
	const struct opts *o = g->o;
	uint64_t n2 = 2ull * o->calls, t0, win_start, win_end, stop_at, next_tick, c = 0;
	uint64_t cpu0 = 0, gen0 = 0, rx0 = 0, tick = (uint64_t)o->tick_us * 1000u;
	int in_win = 0, done_win = 0;
	struct epoll_event ev[2 * MAXK];
	struct timespec ts;

	g->phase++;
	g->tx_win = g->rx_win = g->rx_total = g->send_err = g->stray = g->lat_max_ns = 0;
	memset(g->hist, 0, sizeof(uint32_t) * (HIST_US + 1));
	t0 = mono_ns();
	win_start = t0 + (uint64_t)o->warmup * 1000000000ull;
	win_end = win_start + (uint64_t)o->seconds * 1000000000ull;
	stop_at = win_end + 300000000ull; /* drain: late packets of the window still count */
	next_tick = t0;
	for (;;) {
		uint64_t now = mono_ns();
		g->now_us = now / 1000u;
		if (!in_win && !done_win && now >= win_start) {
			in_win = 1;
			cpu0 = cpu(arg);
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
			gen0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			rx0 = g->rx_total;
		}
		if (in_win && now >= win_end) {
			in_win = 0;
			done_win = 1;
			res->cpu_ns = cpu(arg) - cpu0;
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
			res->gen_cpu_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - gen0;
			res->rx_in_window = g->rx_total - rx0;
			res->seconds = (double)(now - win_start) / 1e9;
		}
		if (now >= stop_at)
			break;
		/* emit what is due: entry e = dir * N + call, offset e * 20 ms / 2N in each period */
		if (now < win_end) {
			for (;;) {
				uint64_t e = c % n2, due = t0 + (c / n2) * PERIOD_NS + e * PERIOD_NS / n2;
				if (due > now)
					break;
				int dir = e >= o->calls;
				gen_emit(g, (unsigned)(dir ? e - o->calls : e), dir, c / n2,
				         now >= win_start && now < win_end);
				c++;
			}
			for (int d = 0; d < 2; d++)
				for (unsigned i = 0; i < g->k; i++)
					if (g->side[d][i].n > 0)
						gen_flush(g, &g->side[d][i]);
		}
		int n = epoll_wait(g->ep, ev, 2 * MAXK, 0);
		for (int i = 0; i < n; i++)
			gen_recv(g, ev[i].data.ptr);
		next_tick += tick;
		if (next_tick < now)
			next_tick = now; /* behind: no catch-up burst of ticks */
		ts.tv_sec = (time_t)(next_tick / 1000000000ull);
		ts.tv_nsec = (long)(next_tick % 1000000000ull);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	res->tx_win = g->tx_win;
	res->rx_win = g->rx_win;
	res->send_err = g->send_err;
	res->stray = g->stray;
	res->p50_us = hist_pct(g->hist, g->rx_win, 50);
	res->p99_us = hist_pct(g->hist, g->rx_win, 99);
	res->max_us = g->lat_max_ns / 1000u;
	res->ok = 1;
}

static void gen_route_all(struct gen *g, const struct sockaddr_in *to)
{
	for (unsigned i = 0; i < g->o->calls; i++)
		g->calls[i].to[0] = g->calls[i].to[1] = *to;
}

/* ---- baseline: the kernel alone --------------------------------------------------------- */

struct base {
	struct gen *g;
	int fd;
	atomic_int stop;
	pthread_t t;
};

static void *base_main(void *arg)
{
	struct base *b = arg;
	uint8_t buf[2048];
	struct sockaddr_in from;

	pin_fwd(0);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(b->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 12)
			continue;
		uint32_t ssrc = get32(buf + 8), call = ssrc & 0x0fffffffu;
		int dir = (ssrc >> 28) == 2; /* 1: from A, 2: from B */
		if (call >= b->g->o->calls)
			continue;
		const struct sockaddr_in *to = &b->g->side[!dir][call % b->g->k].addr;
		sendto(b->fd, buf, (size_t)n, 0, (const struct sockaddr *)to, sizeof(*to));
	}
	return NULL;
}

static uint64_t base_cpu(void *arg)
{
	(void)arg;
	return threads_cpu_ns("bench-fwd");
}

static void run_baseline(struct gen *g, struct phase_result *res)
{
	struct base b = {.g = g};
	struct sockaddr_in a;
	struct timeval tv = {0, 100000};

	b.fd = udp_socket(&a);
	setsockopt(b.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	gen_route_all(g, &a);
	pthread_create(&b.t, NULL, base_main, &b);
	pthread_setname_np(b.t, "bench-fwd");
	gen_run(g, res, base_cpu, NULL);
	atomic_store(&b.stop, 1);
	pthread_join(b.t, NULL);
	close(b.fd);
}

/* ---- relais ------------------------------------------------------------------------------ */

static uint64_t relais_cpu(void *arg)
{
	(void)arg;
	return threads_cpu_ns("rl-relay");
}

static int run_relais(struct gen *g, struct phase_result *res, struct rl_relay_counters *cnt)
{
	struct rl_relay *r;
	struct rl_relay_conf conf = {.listen = "127.0.0.1:0",
	                             .threads = g->o->threads,
	                             .idle_ms = 30000,
	                             .max_calls = g->o->calls * 2 < 1024 ? 1024 : g->o->calls * 2};
	struct sockaddr_storage to;
	socklen_t tolen;
	int rv;

	if ((rv = rl_relay_open(&r, &conf)) != 0) {
		fprintf(stderr, "rl_relay_open: %s\n", rl_strerror(rv));
		return -1;
	}
	if (rl_addr_parse(rl_relay_advertise(r), 0, &to, &tolen) != RL_OK || to.ss_family != AF_INET) {
		fprintf(stderr, "relay advertises %s: not an IPv4 address\n", rl_relay_advertise(r));
		rl_relay_close(r);
		return -1;
	}
	for (unsigned i = 0; i < g->o->calls; i++)
		if ((rv = rl_relay_add(r, i + 1, g->calls[i].ssrc[0], g->calls[i].ssrc[1], g->calls[i].key[0],
		                       g->calls[i].key[1])) != 0) {
			fprintf(stderr, "rl_relay_add: %s\n", rl_strerror(rv));
			rl_relay_close(r);
			return -1;
		}
	gen_route_all(g, (const struct sockaddr_in *)&to);
	threads_cpu_ns_pin("rl-relay", 1);
	for (unsigned i = 0; i < g->o->calls; i++)
		memset(g->calls[i].proof, 0, sizeof(g->calls[i].proof)); /* a fresh call: proofs from the start */
	g->latch = 1;
	gen_run(g, res, relais_cpu, NULL);
	g->latch = 0;
	rl_relay_counters(r, cnt);
	rl_relay_close(r);
	return 0;
}

/* ---- rtpengine over its ng protocol ----------------------------------------------------- */

struct rte {
	pid_t pid;
	int ng;
	unsigned cookie;
	char log[64];
};

static uint64_t rte_cpu(void *arg)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)((struct rte *)arg)->pid);
	return stat_cpu_ns(path);
}

/* be_skip: past one bencoded value at p, or NULL. */
static const char *be_skip(const char *p, const char *end, int depth)
{
	if (p >= end || depth > 32)
		return NULL;
	if (*p == 'i') {
		const char *e = memchr(p, 'e', (size_t)(end - p));
		return e ? e + 1 : NULL;
	}
	if (*p == 'l' || *p == 'd') {
		p++;
		while (p < end && *p != 'e')
			if ((p = be_skip(p, end, depth + 1)) == NULL)
				return NULL;
		return p < end ? p + 1 : NULL;
	}
	if (*p >= '0' && *p <= '9') {
		char *colon;
		unsigned long len = strtoul(p, &colon, 10);
		if (colon >= end || *colon != ':' || len > (size_t)(end - colon - 1))
			return NULL;
		return colon + 1 + len;
	}
	return NULL;
}

/* be_dict_str finds string key in the top-level dict [p, end); its value in *v, *vl. */
static int be_dict_str(const char *p, const char *end, const char *key, const char **v, size_t *vl)
{
	if (p >= end || *p++ != 'd')
		return -1;
	while (p < end && *p != 'e') {
		char *colon;
		unsigned long kl = strtoul(p, &colon, 10);
		if (colon >= end || *colon != ':' || kl > (size_t)(end - colon - 1))
			return -1;
		const char *k = colon + 1, *val = k + kl;
		const char *next = be_skip(val, end, 0);
		if (next == NULL)
			return -1;
		if (kl == strlen(key) && memcmp(k, key, kl) == 0 && *val >= '0' && *val <= '9') {
			unsigned long l = strtoul(val, &colon, 10);
			*v = colon + 1;
			*vl = l;
			return 0;
		}
		p = next;
	}
	return -1;
}

static void be_put(char **p, char *end, const char *s)
{
	int n = snprintf(*p, (size_t)(end - *p), "%zu:%s", strlen(s), s);
	*p += n > 0 && n < end - *p ? n : 0;
}

/* rte_cmd sends one ng request (dict of string pairs, keys in order) and reads the reply. */
static int rte_cmd(struct rte *e, const char *const *kv, char *reply, size_t cap, size_t *rlen)
{
	char req[4096], *p, *end = req + sizeof(req);
	char ck[24];

	snprintf(ck, sizeof(ck), "b%u", ++e->cookie);
	p = req + snprintf(req, sizeof(req), "%s d", ck);
	for (int i = 0; kv[i] != NULL; i += 2) {
		be_put(&p, end, kv[i]);
		be_put(&p, end, kv[i + 1]);
	}
	if (p >= end - 1)
		return -1;
	*p++ = 'e';
	for (int tries = 0; tries < 3; tries++) {
		/* ECONNREFUSED: an earlier try found the port not open yet (start-up): again */
		if (send(e->ng, req, (size_t)(p - req), 0) < 0 && errno != ECONNREFUSED)
			return -1;
		for (;;) {
			ssize_t n = recv(e->ng, reply, cap - 1, 0);
			if (n < 0)
				break; /* timeout: send again (the cookie makes it idempotent) */
			reply[n] = '\0';
			size_t cl = strlen(ck);
			if ((size_t)n > cl + 1 && memcmp(reply, ck, cl) == 0 && reply[cl] == ' ') {
				memmove(reply, reply + cl + 1, (size_t)n - cl - 1);
				*rlen = (size_t)n - cl - 1;
				reply[*rlen] = '\0';
				return 0;
			}
		}
	}
	return -1;
}

/* sdp_media reads "c=IN IP4 <addr>" and "m=audio <port>" from an SDP. */
static int sdp_media(const char *sdp, size_t len, struct sockaddr_in *out)
{
	char buf[4096], ip[64];
	const char *m, *c;
	struct sockaddr_storage ss;
	socklen_t sl;
	int port;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, sdp, len);
	buf[len] = '\0';
	if ((m = strstr(buf, "m=audio ")) == NULL || (c = strstr(buf, "c=IN IP4 ")) == NULL)
		return -1;
	if (sscanf(c + 9, "%63[0-9.]", ip) != 1 || (port = atoi(m + 8)) <= 0 ||
	    rl_addr_from_ip(ip, (unsigned)port, AF_INET, &ss, &sl) != RL_OK)
		return -1;
	memcpy(out, &ss, sizeof(*out));
	return 0;
}

static int rte_offer_answer(struct rte *e, struct gen *g, unsigned i)
{
	char callid[32], ftag[32], ttag[32], sdp[512], reply[8192];
	const char *v;
	size_t vl, rl;

	snprintf(callid, sizeof(callid), "bench-%u-%u", (unsigned)getpid(), i);
	snprintf(ftag, sizeof(ftag), "a%u", i);
	snprintf(ttag, sizeof(ttag), "b%u", i);
	for (int dir = 0; dir < 2; dir++) {
		const struct gsock *s = &g->side[dir][i % g->k];
		snprintf(sdp, sizeof(sdp),
		         "v=0\r\no=- %u 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		         "m=audio %u RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\na=rtcp-mux\r\n",
		         i, ntohs(s->addr.sin_port));
		const char *offer[] = {"call-id", callid, "command", "offer", "from-tag", ftag, "sdp", sdp, NULL};
		const char *answer[] = {"call-id", callid, "command", "answer", "from-tag", ftag,
		                        "sdp",     sdp,    "to-tag",  ttag,     NULL};
		if (rte_cmd(e, dir == 0 ? offer : answer, reply, sizeof(reply), &rl) != 0 ||
		    be_dict_str(reply, reply + rl, "result", &v, &vl) != 0 || vl != 2 || memcmp(v, "ok", 2) != 0 ||
		    be_dict_str(reply, reply + rl, "sdp", &v, &vl) != 0) {
			fprintf(stderr, "rtpengine %s failed for call %u: %.200s\n", dir ? "answer" : "offer", i,
			        reply);
			return -1;
		}
		/* the offer's reply is what B sends to, the answer's what A sends to */
		if (sdp_media(v, vl, &g->calls[i].to[!dir]) != 0) {
			fprintf(stderr, "rtpengine reply without media for call %u\n", i);
			return -1;
		}
	}
	return 0;
}

static int free_udp_port(void)
{
	struct sockaddr_in a;
	int fd = udp_socket(&a), port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int run_rtpengine(struct gen *g, struct phase_result *res)
{
	struct rte e = {0};
	char ng[64], pmin[32], pmax[32], nthr[32], reply[1024];
	int port = free_udp_port(), rv = -1;
	size_t rl;
	unsigned pmn = 10000, pmx = 32000; /* below the ephemeral range the generator's ports come from */

	snprintf(ng, sizeof(ng), "--listen-ng=127.0.0.1:%d", port);
	snprintf(pmin, sizeof(pmin), "--port-min=%u", pmn);
	snprintf(pmax, sizeof(pmax), "--port-max=%u", pmx);
	snprintf(nthr, sizeof(nthr), "--num-threads=%u", g->o->threads); /* as many as the relay */
	snprintf(e.log, sizeof(e.log), "/tmp/relais-bench-rtpengine-%d.log", (int)getpid());
	char *argv[] = {(char *)g->o->rtpengine,
	                "--table=-1",
	                "--foreground",
	                "--interface=127.0.0.1",
	                ng,
	                pmin,
	                pmax,
	                "--log-stderr",
	                "--log-level=4",
	                "--delete-delay=0",
	                nthr,
	                NULL};
	if ((e.pid = fork()) < 0)
		return -1;
	if (e.pid == 0) {
		int fd = open(e.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
		pin_fwd(0);                       /* inherited by all its threads */
		if (fd >= 0)
			dup2(fd, 1), dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {0, 200000};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	e.ng = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(e.ng, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	connect(e.ng, (struct sockaddr *)&to, sizeof(to));
	const char *ping[] = {"command", "ping", NULL};
	int up = 0;
	for (int i = 0; i < 50 && !up; i++) {
		const char *v;
		size_t vl;
		up = rte_cmd(&e, ping, reply, sizeof(reply), &rl) == 0 &&
		     be_dict_str(reply, reply + rl, "result", &v, &vl) == 0 && vl == 4 && memcmp(v, "pong", 4) == 0;
		if (!up && waitpid(e.pid, NULL, WNOHANG) == e.pid) {
			e.pid = 0;
			break;
		}
		if (!up)
			usleep(100000);
	}
	if (!up) {
		fprintf(stderr, "rtpengine did not answer ping (log: %s)\n", e.log);
		goto out;
	}
	uint64_t t0 = mono_ns();
	for (unsigned i = 0; i < g->o->calls; i++)
		if (rte_offer_answer(&e, g, i) != 0)
			goto out;
	fprintf(stderr, "rtpengine: %u calls set up in %.2f s\n", g->o->calls, (double)(mono_ns() - t0) / 1e9);
	gen_run(g, res, rte_cpu, &e);
	rv = 0;
out:
	if (e.pid > 0) {
		kill(e.pid, SIGTERM);
		for (int i = 0; i < 40 && waitpid(e.pid, NULL, WNOHANG) == 0; i++)
			usleep(50000);
		if (waitpid(e.pid, NULL, WNOHANG) == 0) {
			kill(e.pid, SIGKILL);
			waitpid(e.pid, NULL, 0);
		}
	}
	if (e.ng > 0)
		close(e.ng);
	if (rv == 0)
		unlink(e.log);
	return rv;
}

/* ---- main -------------------------------------------------------------------------------- */

static void print_row(const char *name, const struct phase_result *r)
{
	if (!r->ok) {
		printf("%-28s  (not run)\n", name);
		return;
	}
	double loss = r->tx_win ? 100.0 * (1.0 - (double)r->rx_win / (double)r->tx_win) : 0;
	double per = r->rx_in_window ? (double)r->cpu_ns / 1000.0 / (double)r->rx_in_window : 0;
	printf("%-28s %9llu %9llu %8.2f %8.1f %7llu %7llu %8llu %8.3f %7.0f %%\n", name, (unsigned long long)r->tx_win,
	       (unsigned long long)r->rx_in_window, per, 100.0 * (double)r->cpu_ns / 1e9 / r->seconds,
	       (unsigned long long)r->p50_us, (unsigned long long)r->p99_us, (unsigned long long)r->max_us, loss,
	       100.0 * (double)r->gen_cpu_ns / 1e9 / r->seconds);
}

static void usage(void)
{
	fprintf(stderr, "usage: relais-bench-relay [--calls N] [--seconds S] [--warmup S] [--threads T] "
	                "[--sockets K] [--tick-us U] [--rtpengine PATH | --no-rtpengine] [--no-baseline] [--pin]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.calls = 1000,
	                 .seconds = 10,
	                 .warmup = 2,
	                 .threads = 1,
	                 .sockets = 16,
	                 .tick_us = 200,
	                 .rtpengine = "/usr/bin/rtpengine",
	                 .baseline = 1,
	                 .pin = 0};
	struct phase_result base = {0}, rel = {0}, rte = {0};
	struct rl_relay_counters cnt = {0};
	struct gen g = {.o = &o};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-rtpengine") == 0)
			o.rtpengine = NULL;
		else if (strcmp(a, "--no-baseline") == 0)
			o.baseline = 0;
		else if (strcmp(a, "--pin") == 0)
			o.pin = 1;
		else if (v == NULL)
			usage();
		else if (strcmp(a, "--calls") == 0)
			o.calls = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--seconds") == 0)
			o.seconds = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--warmup") == 0)
			o.warmup = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--threads") == 0)
			o.threads = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--sockets") == 0)
			o.sockets = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--tick-us") == 0)
			o.tick_us = (unsigned)atoi(v), i++;
		else if (strcmp(a, "--rtpengine") == 0)
			o.rtpengine = v, i++;
		else
			usage();
	}
	if (o.calls == 0 || o.calls > 0x0fffffff || o.seconds == 0 || o.sockets == 0 || o.sockets > MAXK ||
	    o.tick_us == 0 || o.threads == 0 || o.threads > 16)
		usage();
	rl_log_init("relais-bench-relay", RL_LOG_WARNING);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1000UL); /* the generator's tick should be on time */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (o.pin && ncpu >= 2) {
		cpu_set_t gen_cpu;
		CPU_ZERO(&gen_cpu);
		CPU_SET(0, &gen_cpu);
		CPU_ZERO(&fwd_cpus);
		for (long c = 1; c < ncpu && c < CPU_SETSIZE; c++)
			CPU_SET((int)c, &fwd_cpus);
		pinning = sched_setaffinity(0, sizeof(gen_cpu), &gen_cpu) == 0;
	}

	g.k = o.sockets < o.calls ? o.sockets : o.calls;
	g.calls = calloc(o.calls, sizeof(*g.calls));
	g.hist = calloc(HIST_US + 1, sizeof(uint32_t));
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	for (int d = 0; d < 2; d++) {
		g.side[d] = calloc(g.k, sizeof(struct gsock));
		for (unsigned i = 0; i < g.k; i++) {
			struct gsock *s = &g.side[d][i];
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
			s->fd = udp_socket(&s->addr);
			s->dir = d;
			epoll_ctl(g.ep, EPOLL_CTL_ADD, s->fd, &ev);
		}
	}
	for (unsigned i = 0; i < o.calls; i++) {
		g.calls[i].ssrc[0] = 0x10000000u | i; /* the baseline reads leg and call from these */
		g.calls[i].ssrc[1] = 0x20000000u | i;
		rl_latch_keygen(g.calls[i].key[0]);
		rl_latch_keygen(g.calls[i].key[1]);
	}

	printf("calls %u, 50 packets/s each way (%u packets/s offered), %u s measured after %u s warm-up\n", o.calls,
	       o.calls * 100, o.seconds, o.warmup);
	printf("packets 88-148 bytes (RTP 12 + payload 60-120 + tag 16); generator: %u sockets per side, "
	       "tick %u us, sendmmsg batches <= %d; %s\n",
	       g.k, o.tick_us, GBATCH, pinning ? "generator on CPU 0, forwarder on the others" : "not pinned");
	fflush(stdout);
	if (o.baseline) {
		base.name = "baseline";
		run_baseline(&g, &base);
	}
	if (run_relais(&g, &rel, &cnt) != 0)
		return 1;
	if (o.rtpengine != NULL && access(o.rtpengine, X_OK) == 0) {
		if (run_rtpengine(&g, &rte) != 0)
			fprintf(stderr, "rtpengine phase failed\n");
	} else if (o.rtpengine != NULL) {
		fprintf(stderr, "%s not found (Debian package rtpengine-daemon): rtpengine skipped\n", o.rtpengine);
	}

	char rname[64];
	snprintf(rname, sizeof(rname), "relais relay (%u thread%s)", o.threads, o.threads > 1 ? "s" : "");
	printf("\n%-28s %9s %9s %8s %8s %7s %7s %8s %8s %9s\n", "forwarder", "packets", "packets", "CPU us", "CPU %",
	       "p50 us", "p99 us", "max us", "loss %", "gen CPU");
	printf("%-28s %9s %9s %8s %8s %7s %7s %8s %8s %9s\n", "", "offered", "relayed", "/packet", "of core", "added",
	       "added", "", "", "");
	print_row("baseline recvfrom+sendto", &base);
	print_row(rname, &rel);
	print_row("rtpengine (userspace)", &rte);
	if (rte.ok && rel.ok && rel.cpu_ns > 0 && rel.rx_in_window > 0 && rte.rx_in_window > 0) {
		double a = (double)rte.cpu_ns / (double)rte.rx_in_window,
		       b = (double)rel.cpu_ns / (double)rel.rx_in_window;
		printf("\nrtpengine_cpu / relais_cpu per packet: %.2fx\n", a / b);
	}
	printf("relais counters: rx %llu fwd %llu proofs %llu latched %llu drop malformed %llu unknown %llu "
	       "latch_bad %llu latch_replay %llu source %llu unlatched %llu send %llu\n",
	       (unsigned long long)cnt.rx, (unsigned long long)cnt.fwd, (unsigned long long)cnt.proofs,
	       (unsigned long long)cnt.latched, (unsigned long long)cnt.drop_malformed,
	       (unsigned long long)cnt.drop_unknown, (unsigned long long)cnt.drop_latch_bad,
	       (unsigned long long)cnt.drop_latch_replay, (unsigned long long)cnt.drop_source,
	       (unsigned long long)cnt.drop_unlatched, (unsigned long long)cnt.drop_send);
	if (base.send_err + rel.send_err + rte.send_err + base.stray + rel.stray + rte.stray)
		printf(
		    "generator: send errors %llu/%llu/%llu, stray packets %llu/%llu/%llu (baseline/relais/rtpengine)\n",
		    (unsigned long long)base.send_err, (unsigned long long)rel.send_err,
		    (unsigned long long)rte.send_err, (unsigned long long)base.stray, (unsigned long long)rel.stray,
		    (unsigned long long)rte.stray);
	for (int d = 0; d < 2; d++) {
		for (unsigned i = 0; i < g.k; i++)
			close(g.side[d][i].fd);
		free(g.side[d]);
	}
	close(g.ep);
	free(g.calls);
	free(g.hist);
	return 0;
}
