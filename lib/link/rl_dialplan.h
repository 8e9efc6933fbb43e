/*
 * rl_dialplan.h - the dial plan: dialled numbers (DIDs) -> tenant and an IVR menu or a queue,
 * and the IVR menus. The hub reads it from its config (`dial_plan`) and pushes it to every node
 * (DialPlan); a node may also have one in its own config, or the copy it saved of the last one
 * it got. A plan is immutable once built and reference-counted: a call holds the plan it
 * started with while a newer one replaces it for new calls. One thread (the owner's loop)
 * takes and drops references.
 */
#ifndef RL_DIALPLAN_H
#define RL_DIALPLAN_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "relais.pb-c.h"
#include "rl_wire.h"

#define RL_IVR_MAX_OPTIONS 12
#define RL_IVR_PATH        512
#define RL_DIALPLAN_MAX    2000 /* DIDs, and menus, in one plan */

struct rl_dial_did {
	char did[RL_WIRE_MAX_ID + 1]; /* dialled number as it arrives; "*" = any other */
	char tenant[RL_WIRE_MAX_ID + 1];
	char queue[RL_WIRE_MAX_ID + 1]; /* without a menu: the queue */
	char menu[RL_WIRE_MAX_ID + 1];  /* IVR menu; "" = none */
	uint32_t priority;
	int early_media; /* without a menu: 183 + our audio until an agent answers */
};

struct rl_ivr_option {
	char digit;                     /* '0'..'9', '*', '#' */
	char queue[RL_WIRE_MAX_ID + 1]; /* go to this queue ... */
	char menu[RL_WIRE_MAX_ID + 1];  /* ... or to this menu */
	uint32_t priority;
	char key[RL_WIRE_MAX_ID + 1]; /* a screen-pop answer this choice adds ("" = none) */
	char value[RL_WIRE_MAX_ID + 1];
};

struct rl_ivr_menu {
	char id[RL_WIRE_MAX_ID + 1];
	char prompt[RL_IVR_PATH];  /* WAV played when the menu starts */
	char invalid[RL_IVR_PATH]; /* WAV played after a timeout or a wrong key ("" = none) */
	uint32_t timeout_ms;
	uint32_t tries;
	char default_queue[RL_WIRE_MAX_ID + 1]; /* after `tries` failures; "" = release the call */
	uint32_t default_priority;
	struct rl_ivr_option opt[RL_IVR_MAX_OPTIONS];
	int nopt;
};

struct rl_ivr_menus {
	struct rl_ivr_menu *menu;
	int n;
};

struct rl_dialplan {
	unsigned refs;
	uint64_t version;   /* rl_dialplan_to_pb's hash; 0 until asked */
	const char *origin; /* "config", "hub", "saved": for the logs */
	struct rl_dial_did *dids;
	int ndids;
	struct rl_ivr_menus menus;
};

/* How prompts are written. */
enum {
	RL_DIALPLAN_PATHS = 0, /* paths of WAV files, as a node's own config has them */
	RL_DIALPLAN_NAMES = 1, /* bare file names (the hub's plan): no '/', not starting with '.' */
};

/*
 * rl_dialplan_from_config builds a plan from the `dids` and `menus` lists of a config (either
 * may be NULL) and checks it whole: each DID has a tenant and a queue or a known menu, each
 * option a digit (0-9 * #) and a queue or a known menu, prompts as `prompts` says. Returns
 * RL_OK with *out (one reference, the caller's), or RL_ECONFIG with err set.
 */
int rl_dialplan_from_config(struct rl_dialplan **out, const config_setting_t *dids, const config_setting_t *menus,
                            int prompts, char *err, size_t errlen);

/*
 * rl_dialplan_from_pb builds a plan from the hub's DialPlan and checks it as the config path
 * does (prompts must be bare names); each prompt becomes prompt_dir/name. Returns RL_OK with
 * *out (one reference), or RL_EPROTO with err set: nothing of a bad plan is taken.
 */
int rl_dialplan_from_pb(struct rl_dialplan **out, const Relais__DialPlan *m, const char *prompt_dir, char *err,
                        size_t errlen);

/* rl_dialplan_to_pb returns the plan as a message (with its version set: a hash of the rest,
 * also kept in p->version). Its strings are p's: it is valid while p is. Free it with
 * rl_dialplan_pb_free. */
Relais__DialPlan *rl_dialplan_to_pb(struct rl_dialplan *p);
void rl_dialplan_pb_free(Relais__DialPlan *m);

/* rl_dialplan_did returns the entry for dialled (else the "*" entry, else NULL). */
const struct rl_dial_did *rl_dialplan_did(const struct rl_dialplan *p, const char *dialled);

/* rl_ivr_find returns menu id, or NULL. */
const struct rl_ivr_menu *rl_ivr_find(const struct rl_ivr_menus *ms, const char *id);

/* rl_dialplan_ref takes a reference (p may be NULL); rl_dialplan_unref drops one and frees
 * the plan with the last. */
struct rl_dialplan *rl_dialplan_ref(struct rl_dialplan *p);
void rl_dialplan_unref(struct rl_dialplan *p);

#endif
