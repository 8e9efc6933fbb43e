/* siptest.c - see siptest.h. */
#include "siptest.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rltest.h"

static const char *st_tmp;

static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	struct rl_sip_event evs[SIPTEST_MAX_EVS];
	unsigned n;
} rec = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0};

static const char *st_sipp_bin(void)
{
	return getenv("SIPP") && getenv("SIPP")[0] ? getenv("SIPP") : "/usr/bin/sipp";
}

const char *siptest_init(const char *name)
{
	signal(SIGPIPE, SIG_IGN);
	st_tmp = rltest_tmpdir(name);
	if (access(st_sipp_bin(), X_OK) != 0)
		fprintf(stderr, "sipp not found at %s (Debian: apt-get install sip-tester)\n", st_sipp_bin());
	RL_REQUIRE(access(st_sipp_bin(), X_OK) == 0);
	return st_tmp;
}

void siptest_on_event(void *arg, const struct rl_sip_event *ev)
{
	(void)arg;
	pthread_mutex_lock(&rec.mtx);
	if (rec.n < SIPTEST_MAX_EVS)
		rec.evs[rec.n] = *ev;
	rec.n++;
	pthread_cond_broadcast(&rec.cv);
	pthread_mutex_unlock(&rec.mtx);
}

void siptest_rec_reset(void)
{
	pthread_mutex_lock(&rec.mtx);
	rec.n = 0;
	pthread_mutex_unlock(&rec.mtx);
}

unsigned siptest_rec_count(void)
{
	pthread_mutex_lock(&rec.mtx);
	unsigned n = rec.n;
	pthread_mutex_unlock(&rec.mtx);
	return n;
}

/* The nth event of type for call (any if 0) among those recorded, or NULL; under rec.mtx. */
static const struct rl_sip_event *st_find(int type, uint64_t call, unsigned nth)
{
	unsigned seen = 0;

	for (unsigned i = 0; i < rec.n && i < SIPTEST_MAX_EVS; i++)
		if (rec.evs[i].type == type && (call == 0 || rec.evs[i].call == call) && seen++ == nth)
			return &rec.evs[i];
	return NULL;
}

int siptest_wait_ev(int type, uint64_t call, unsigned nth, int timeout_ms, struct rl_sip_event *out)
{
	const struct rl_sip_event *ev;
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rec.mtx);
	while ((ev = st_find(type, call, nth)) == NULL && pthread_cond_timedwait(&rec.cv, &rec.mtx, &dl) != ETIMEDOUT)
		;
	if (ev == NULL)
		ev = st_find(type, call, nth); /* it may have come with the timeout */
	if (out != NULL && ev != NULL)
		*out = *ev;
	else if (out != NULL)
		memset(out, 0, sizeof(*out)); /* later checks fail cleanly */
	pthread_mutex_unlock(&rec.mtx);
	return ev != NULL;
}

unsigned siptest_count_ev(int type, uint64_t call)
{
	unsigned n = 0;

	pthread_mutex_lock(&rec.mtx);
	for (unsigned i = 0; i < rec.n && i < SIPTEST_MAX_EVS; i++)
		if (rec.evs[i].type == type && (call == 0 || rec.evs[i].call == call))
			n++;
	pthread_mutex_unlock(&rec.mtx);
	return n;
}

pid_t siptest_sipp_start(struct siptest_sipp *r)
{
	static unsigned run;
	char remote[64], lport[16], mport[16], sf[512], errf[640], file[128];
	char *argv[64];
	int n = 0;

	if (r->scen[0] == '/') {
		snprintf(sf, sizeof(sf), "%s", r->scen);
	} else {
		snprintf(file, sizeof(file), "tests/sip/scenarios/%s.xml", r->scen);
		snprintf(sf, sizeof(sf), "%s", rltest_src(file));
	}
	snprintf(remote, sizeof(remote), "127.0.0.1:%d", r->port);
	r->local_port = rltest_free_port();
	r->media_port = rltest_free_ports(4);
	snprintf(lport, sizeof(lport), "%d", r->local_port);
	snprintf(mport, sizeof(mport), "%d", r->media_port);
	snprintf(r->log, sizeof(r->log), "%s/%02u-%s.log", st_tmp, run, strrchr(sf, '/') + 1);
	snprintf(errf, sizeof(errf), "%s.errors.log", r->log);
	snprintf(r->msg_file, sizeof(r->msg_file), "%s.messages.log", r->log);
	run++;
	const char *fixed[] = {st_sipp_bin(),
	                       remote,
	                       "-sf",
	                       sf,
	                       "-m",
	                       "1",
	                       "-l",
	                       "1",
	                       "-timeout",
	                       "20s",
	                       "-timeout_error",
	                       "-nostdin",
	                       "-i",
	                       r->local_ip ? r->local_ip : "127.0.0.1",
	                       "-p",
	                       lport,
	                       "-mp",
	                       mport,
	                       "-t",
	                       r->transport ? r->transport : "u1",
	                       "-s",
	                       r->service ? r->service : "0522000999",
	                       "-max_retrans",
	                       "3",
	                       "-trace_err",
	                       "-error_file",
	                       errf,
	                       "-trace_msg",
	                       "-message_file",
	                       r->msg_file,
	                       NULL};
	for (int i = 0; fixed[i] != NULL; i++)
		argv[n++] = (char *)fixed[i];
	for (int i = 0; i + 1 < 16 && r->keys[i] != NULL && r->keys[i + 1] != NULL && n + 3 < 64; i += 2) {
		argv[n++] = "-key";
		argv[n++] = (char *)r->keys[i];
		argv[n++] = (char *)r->keys[i + 1];
	}
	argv[n] = NULL;
	return rltest_spawn(argv, r->log);
}

int siptest_sipp_wait(const struct siptest_sipp *r, pid_t pid, int timeout_ms)
{
	int st;

	for (int waited = 0; waited < timeout_ms; waited += 20) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			if (rc != 0)
				fprintf(stderr, "sipp exit %d, see %s and its .errors.log\n", rc, r->log);
			return rc;
		}
		if (w < 0)
			return -1;
		rltest_sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	fprintf(stderr, "sipp did not finish in time, see %s\n", r->log);
	return -1;
}

/* The file's text (malloc'd, NUL-terminated; bytes after a NUL are not looked at), or NULL. */
static char *st_slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)(n > 0 ? n : 0) + 1);
	if (buf != NULL) {
		n = (long)fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* One received message starting at m (its end: the next sipp separator line, or the end). */
static void st_response(const char *m, struct siptest_resp *out)
{
	const char *end = strstr(m, "\n-----------------------------------------------");
	const char *eol = strpbrk(m, "\r\n");
	size_t n = eol ? (size_t)(eol - m) : strlen(m);

	memset(out, 0, sizeof(*out));
	snprintf(out->line, sizeof(out->line), "%.*s", (int)n, m);
	out->code = atoi(m + 8);
	for (const char *h = strchr(m, '\n'); h != NULL && (end == NULL || h < end); h = strchr(h + 1, '\n')) {
		const char *v = h + 1;
		if (*v == '\r' || *v == '\n')
			break; /* the end of the headers */
		if (strncasecmp(v, "Retry-After:", 12) == 0) {
			v += 12;
			v += strspn(v, " \t");
			snprintf(out->retry_after, sizeof(out->retry_after), "%.*s", (int)strcspn(v, " \t\r\n;("), v);
		}
	}
}

int siptest_responses(const struct siptest_sipp *r, struct siptest_resp *out, int max)
{
	char *buf = st_slurp(r->msg_file);
	const char *p = buf;
	int n = 0;

	while (p != NULL && n < max && (p = strstr(p, "message received")) != NULL) {
		const char *m = strstr(p, "\n\n");
		if (m == NULL)
			break;
		m += 2;
		if (strncmp(m, "SIP/2.0 ", 8) == 0)
			st_response(m, &out[n++]);
		p = m;
	}
	free(buf);
	return n;
}

/* Prints s with its bytes outside printable ASCII as \xNN. */
static void st_print_escaped(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			fprintf(stderr, "\\x%02x", (unsigned char)*s);
		else
			fputc(*s, stderr);
}

int siptest_final(const struct siptest_sipp *r, const char *line, const char *retry_after)
{
	struct siptest_resp resp[16];
	int n = siptest_responses(r, resp, 16), finals = 0, ok = 1;

	for (int i = 0; i < n; i++) {
		if (resp[i].code < 200)
			continue;
		finals++;
		if (strcmp(resp[i].line, line) != 0 || strcmp(resp[i].retry_after, retry_after) != 0) {
			fprintf(stderr, "%s: got \"", r->msg_file);
			st_print_escaped(resp[i].line);
			fprintf(stderr, "\" Retry-After \"%s\", want \"%s\" Retry-After \"%s\"\n", resp[i].retry_after,
			        line, retry_after);
			ok = 0;
		}
	}
	if (finals == 0)
		fprintf(stderr, "%s: no final response, want \"%s\"\n", r->msg_file, line);
	return ok && finals > 0;
}
