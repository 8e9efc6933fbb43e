/*
 * wallboard.c - `relaisctl wallboard`: a one-time ticket for the hub's web wallboard.
 *
 * The operator proves its key as for any request; the hub answers a ticket bound to the
 * operator, its role and its tenants, good once within a minute, and the page's address with
 * the ticket after '#' (browsers do not send that part, so no server log keeps it). Opening
 * the address trades the ticket for a session cookie (docs/supervision.md).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "rl_wire.h"

int ctl_cmd_wallboard(struct ctl *c, int argc, char **argv)
{
	Relais__WallboardTicketRequest wr = RELAIS__WALLBOARD_TICKET_REQUEST__INIT;
	rl_env env, *r;
	int rv;

	(void)argv;
	if (argc != 0)
		return ctl_usage();
	if ((rv = ctl_open(c)) != 0)
		return rv;
	rl_env_init(&env);
	env.body_case = RELAIS__ENVELOPE__BODY_WALLBOARD_TICKET_REQUEST;
	env.wallboard_ticket_request = &wr;
	if ((r = ctl_ask(c, &env, &rv)) != NULL && r->body_case == RELAIS__ENVELOPE__BODY_WALLBOARD_TICKET) {
		const Relais__WallboardTicket *t = r->wallboard_ticket;
		if (c->json) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "url", t->url);
			cJSON_AddStringToObject(o, "ticket", t->ticket);
			cJSON_AddNumberToObject(o, "ttl_s", t->ttl_s);
			char *s = cJSON_PrintUnformatted(o);
			puts(s);
			free(s);
			cJSON_Delete(o);
		} else {
			printf("%s\n", t->url);
			fprintf(stderr, "open it within %u s, once (the ticket in it is then used up)\n", t->ttl_s);
		}
	}
	rl_wire_free(r);
	ctl_close(c);
	return rv;
}
