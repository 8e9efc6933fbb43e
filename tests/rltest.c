#include "rltest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

unsigned rltest_passed, rltest_failed;

int rltest_done(void)
{
	printf("%u passed, %u failed\n", rltest_passed, rltest_failed);
	fflush(stdout);
	return (rltest_failed == 0 && rltest_passed > 0) ? 0 : 1;
}

const char *rltest_tmpdir(const char *prefix)
{
	static char path[4][512];
	static int n;
	const char *base = getenv("TMPDIR");
	char *p = path[n++ & 3];

	snprintf(p, 512, "%s/%s-XXXXXX", base ? base : "/tmp", prefix ? prefix : "rltest");
	if (mkdtemp(p) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	return p;
}

static const char *rltest_path(const char *envname, const char *def, const char *rel)
{
	static char buf[8][1024];
	static int n;
	const char *base = getenv(envname);
	char *p = buf[n++ & 7];

	snprintf(p, 1024, "%s/%s", base ? base : def, rel);
	return p;
}

const char *rltest_bin(const char *rel)
{
	return rltest_path("RELAIS_BIN", ".", rel);
}

const char *rltest_src(const char *rel)
{
	return rltest_path("RELAIS_SRC", "..", rel);
}

pid_t rltest_spawn_env(char *const argv[], char *const env[], const char *logpath)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		int fd = open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0) {
			dup2(nul, 0);
			close(nul);
		}
		for (int i = 0; env != NULL && env[i] != NULL; i++)
			putenv(env[i]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

pid_t rltest_spawn(char *const argv[], const char *logpath)
{
	return rltest_spawn_env(argv, NULL, logpath);
}

int rltest_stop(pid_t pid, int sig, int timeout_ms)
{
	int status;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		rltest_sleep_ms(10);
	}
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) == pid)
		return status;
	return -1;
}

/* rltest_loopback fills *sa with 127.0.0.1:port. */
static void rltest_loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)port);
}

/* rltest_port_free: 1 if port can be bound on 127.0.0.1 with this socket type now. */
static int rltest_port_free(int type, int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, type, 0), ok;

	rltest_loopback(&sa, port);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

#define RLTEST_PORT_LO 20000 /* the kernel hands out 32768 and up (ip_local_port_range) */
#define RLTEST_PORT_HI 32000

/* rltest_port_given: 1 if [base, base + n) meets a range handed out lately (it may not be
 * bound yet); else it is remembered. */
static int rltest_port_given(int base, int n)
{
	static int given[64][2];
	static unsigned next;

	for (int i = 0; i < 64; i++)
		if (given[i][1] > 0 && base < given[i][0] + given[i][1] && given[i][0] < base + n)
			return 1;
	given[next % 64][0] = base;
	given[next % 64][1] = n;
	next++;
	return 0;
}

int rltest_free_ports(int n)
{
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
	for (int tries = 0; tries < 1000; tries++) {
		int base, k;
		seed = seed * 1103515245u + 12345u;
		base = RLTEST_PORT_LO + (int)((seed >> 8) % (unsigned)(RLTEST_PORT_HI - RLTEST_PORT_LO - n));
		for (k = 0; k < n; k++)
			if (!rltest_port_free(SOCK_STREAM, base + k) || !rltest_port_free(SOCK_DGRAM, base + k))
				break;
		if (k == n && !rltest_port_given(base, n))
			return base;
	}
	return -1;
}

int rltest_free_port(void)
{
	return rltest_free_ports(1);
}

void rltest_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long long rltest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rltest_wait_begin(struct rltest_wait *w, int timeout_ms)
{
	w->start_ms = rltest_now_ms();
	w->deadline_ms = w->start_ms + timeout_ms;
	w->pause_ms = 1;
}

int rltest_wait_again(struct rltest_wait *w)
{
	long long left = w->deadline_ms - rltest_now_ms();

	if (left <= 0)
		return 0;
	/* The last try falls on the deadline itself, whatever the pause. */
	rltest_sleep_ms(left < w->pause_ms ? (int)left : w->pause_ms);
	w->pause_ms = w->pause_ms * 2 > 100 ? 100 : w->pause_ms * 2;
	return 1;
}

int rltest_wait_end(const struct rltest_wait *w, int ok, const char *file, int line, const char *what, int require)
{
	if (ok) {
		rltest_passed++;
		return 1;
	}
	rltest_failed++;
	fprintf(stderr, "%s:%d: timed out after %lld ms waiting for: %s\n", file, line, rltest_now_ms() - w->start_ms,
	        what);
	if (require)
		exit(rltest_done());
	return 0;
}

int rltest_certs(const char *prefix, struct rltest_certs *c)
{
	const char *dir = rltest_tmpdir(prefix);
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "sh %s %s", rltest_src("deploy/mkcerts.sh"), dir);
	snprintf(c->ca, sizeof(c->ca), "%s/ca.pem", dir);
	snprintf(c->hub, sizeof(c->hub), "%s/hub.pem", dir);
	snprintf(c->hub_key, sizeof(c->hub_key), "%s/hub.key", dir);
	snprintf(c->agent, sizeof(c->agent), "%s/agent.pem", dir);
	snprintf(c->agent_key, sizeof(c->agent_key), "%s/agent.key", dir);
	return rltest_run(cmd, NULL);
}

int rltest_run(const char *cmdline, const char *logpath)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "(%s) >>'%s' 2>&1", cmdline, logpath ? logpath : "/dev/null");
	int st = system(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

double rltest_log_num(const char *path, const char *n1, const char *n2, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[4096], k[64];
	double v = -1;

	if (f == NULL)
		return -1;
	snprintf(k, sizeof(k), " %s=", key);
	while (fgets(line, sizeof(line), f)) {
		char *p;
		if (strstr(line, n1) && (!n2 || strstr(line, n2)) && (p = strstr(line, k)) != NULL)
			v = strtod(p + strlen(k), NULL);
	}
	fclose(f);
	return v;
}

/* rltest_line_time: the wall-clock ms of a Relais log line ("2026-12-04T23:21:01.547Z ..."). */
static double rltest_line_time(const char *line)
{
	struct tm tm;
	int ms = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000.0 + ms;
}

double rltest_log_time(const char *path, const char *needle, double after_ms)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	double t = -1;

	if (f == NULL)
		return -1;
	while (t < 0 && fgets(line, sizeof(line), f) != NULL) {
		double at;
		if (strstr(line, needle) != NULL && (at = rltest_line_time(line)) >= after_ms)
			t = at;
	}
	fclose(f);
	return t;
}

char *rltest_capture(const char *cmdline)
{
	FILE *f = popen(cmdline, "r");
	size_t cap = 4096, n = 0, r;
	char *out = malloc(cap);

	if (f == NULL || out == NULL) {
		free(out);
		if (f)
			pclose(f);
		return NULL;
	}
	while ((r = fread(out + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 1024) {
			char *p = realloc(out, cap * 2);
			if (p == NULL)
				break;
			out = p;
			cap *= 2;
		}
	}
	out[n] = 0;
	pclose(f);
	return out;
}

static uint8_t *rltest_put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

/* rltest_client_hello writes the ClientHello into buf (256 bytes at least); returns its length. */
static size_t rltest_client_hello(uint8_t *buf)
{
	static const uint8_t ext[] = {
	    0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, /* supported groups: secp256r1 */
	    0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,             /* point formats: uncompressed */
	    0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, /* signatures: ecdsa_secp256r1_sha256 */
	};
	uint8_t *p = buf + 9, *body = p; /* after the record (5) and handshake (4) headers */
	size_t n;

	p = rltest_put16(p, 0x0303); /* TLS 1.2 */
	for (int i = 0; i < 32; i++)
		*p++ = (uint8_t)rand(); /* the client's random: any will do */
	*p++ = 0;                       /* no session id */
	p = rltest_put16(p, 4);         /* two suites: */
	p = rltest_put16(p, 0xc02b);    /* ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 */
	p = rltest_put16(p, 0xc02c);    /* ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 */
	*p++ = 1;                       /* one compression method: none */
	*p++ = 0;
	p = rltest_put16(p, sizeof(ext));
	memcpy(p, ext, sizeof(ext));
	p += sizeof(ext);
	n = (size_t)(p - body);
	buf[0] = 0x16; /* a handshake record */
	rltest_put16(buf + 1, 0x0301);
	rltest_put16(buf + 3, (unsigned)n + 4);
	buf[5] = 0x01; /* ClientHello */
	buf[6] = 0;
	rltest_put16(buf + 7, (unsigned)n);
	return n + 9;
}

static int rltest_tcp_connect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	rltest_loopback(&sa, port);
	RL_REQUIRE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

void rltest_cut_handshake(int port)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close() sends a reset */
	struct timeval tv = {.tv_sec = 5};
	uint8_t hello[256], answer[64];
	size_t n = rltest_client_hello(hello);
	int fd = rltest_tcp_connect(port);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	RL_CHECK(write(fd, hello, n) == (ssize_t)n);
	RL_CHECK(recv(fd, answer, sizeof(answer), 0) > 0); /* the ServerHello has come */
	shutdown(fd, SHUT_WR);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

int rltest_half_hello(int port)
{
	uint8_t hello[256];
	size_t n = rltest_client_hello(hello) / 2;
	int fd = rltest_tcp_connect(port);

	RL_CHECK(write(fd, hello, n) == (ssize_t)n);
	return fd;
}
