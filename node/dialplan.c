#include "dialplan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl_alloc.h"
#include "rl_file.h"
#include "rl_err.h"
#include "rl_log.h"

#define RL_PLAN_FILE     "dialplan.pb"
#define RL_PLAN_FILE_MAX (4u << 20) /* far above what RL_DIALPLAN_MAX entries pack to */

struct rl_node_plan {
	struct rl_dialplan *plan; /* in force; NULL = none yet */
	char prompt_dir[RL_IVR_PATH];
	char path[RL_IVR_PATH]; /* where the hub's plan is saved; "" = not saved */
};

static void rl_np_log(const struct rl_dialplan *p)
{
	rl_log(RL_LOG_NOTICE, "dial plan in force from=%s version=%016llx dids=%d menus=%d", p->origin,
	       (unsigned long long)p->version, p->ndids, p->menus.n);
}

/* rl_np_save writes the plan as the hub sent it: a temporary file, synced, renamed over the
 * last copy, so a crash leaves the old copy or the new one, never half of one. */
static void rl_np_save(const struct rl_node_plan *np, const Relais__DialPlan *m)
{
	size_t len = relais__dial_plan__get_packed_size(m);
	uint8_t *buf = rl_malloc(len + 1);
	char tmp[RL_IVR_PATH + 8];
	int fd, ok;

	relais__dial_plan__pack(m, buf);
	snprintf(tmp, sizeof(tmp), "%s.tmp", np->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, buf, len) == (ssize_t)len && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	ok = ok && rename(tmp, np->path) == 0;
	if (!ok) {
		rl_log(RL_LOG_WARNING, "dial plan not saved path=%s err=\"%s\"", np->path, strerror(errno));
		unlink(tmp);
	}
	free(buf);
}

/* rl_np_load reads the saved copy, if any, as the hub had sent it. */
static struct rl_dialplan *rl_np_load(const struct rl_node_plan *np)
{
	struct rl_dialplan *p = NULL;
	Relais__DialPlan *m = NULL;
	char *buf, err[256] = "";
	size_t len;

	if (rl_file_read(np->path, RL_PLAN_FILE_MAX, &buf, &len) == RL_ENOENT)
		return NULL;
	if (buf != NULL)
		m = relais__dial_plan__unpack(NULL, len, (const uint8_t *)buf);
	if (m == NULL || rl_dialplan_from_pb(&p, m, np->prompt_dir, err, sizeof(err)) != RL_OK)
		rl_log(RL_LOG_WARNING, "saved dial plan unusable path=%s err=\"%s\"", np->path,
		       err[0] ? err : "unreadable");
	else
		p->origin = "saved";
	if (m != NULL)
		relais__dial_plan__free_unpacked(m, NULL);
	free(buf);
	return p;
}

struct rl_node_plan *rl_node_plan_open(struct rl_dialplan *local, const char *prompt_dir, const char *state_dir)
{
	struct rl_node_plan *np = rl_calloc(1, sizeof(*np));

	snprintf(np->prompt_dir, sizeof(np->prompt_dir), "%s", prompt_dir && prompt_dir[0] ? prompt_dir : ".");
	if (state_dir != NULL && state_dir[0])
		snprintf(np->path, sizeof(np->path), "%s/%s", state_dir, RL_PLAN_FILE);
	np->plan = local;
	if (np->plan == NULL && np->path[0])
		np->plan = rl_np_load(np);
	if (np->plan != NULL) {
		Relais__DialPlan *m = rl_dialplan_to_pb(np->plan); /* for its version, in the log */
		rl_dialplan_pb_free(m);
		rl_np_log(np->plan);
	} else {
		rl_log(RL_LOG_NOTICE, "no dial plan yet: carrier calls are refused until the hub sends one");
	}
	return np;
}

struct rl_dialplan *rl_node_plan_get(const struct rl_node_plan *np)
{
	return np->plan;
}

int rl_node_plan_hub(struct rl_node_plan *np, const Relais__DialPlan *m)
{
	struct rl_dialplan *p;
	char err[256];

	if (np->plan != NULL && strcmp(np->plan->origin, "config") != 0 && np->plan->version == m->version)
		return RL_OK;
	if (rl_dialplan_from_pb(&p, m, np->prompt_dir, err, sizeof(err)) != RL_OK) {
		rl_log(RL_LOG_ERR, "dial plan from the hub refused version=%016llx err=\"%s\"",
		       (unsigned long long)m->version, err);
		return RL_EPROTO;
	}
	rl_dialplan_unref(np->plan);
	np->plan = p;
	rl_np_log(p);
	if (np->path[0])
		rl_np_save(np, m);
	return RL_OK;
}

void rl_node_plan_close(struct rl_node_plan *np)
{
	if (np == NULL)
		return;
	rl_dialplan_unref(np->plan);
	free(np);
}
