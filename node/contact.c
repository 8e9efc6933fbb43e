#include "contact.h"

#include <stdio.h>
#include <stdlib.h>

#include "bridge.h"
#include "rl_alloc.h"
#include "rl_audio.h"
#include "source.h"

struct rl_contact *rl_contact_new(const char *id, struct rl_source *src, void *cookie)
{
	struct rl_contact *c = rl_calloc(1, sizeof(*c));

	snprintf(c->id, sizeof(c->id), "%s", id);
	c->src = src;
	c->cookie = cookie;
	return c;
}

static void rl_contact_detach(struct rl_contact *c)
{
	if (c->audio_src != NULL)
		c->audio_src->close(c->audio_src);
	if (c->audio_sink != NULL)
		c->audio_sink->close(c->audio_sink);
	c->audio_src = NULL;
	c->audio_sink = NULL;
}

void rl_contact_attach(struct rl_contact *c, struct rl_audio_src *src, struct rl_audio_sink *sink)
{
	rl_contact_detach(c);
	c->audio_src = src;
	c->audio_sink = sink;
}

void rl_contact_voice(struct rl_contact *c, const char *path)
{
	snprintf(c->voice, sizeof(c->voice), "%s", path);
}

/*
 * Who sees a ContactUpdate first, the media side or the source, is decided here and only
 * here, by where the call goes:
 *  - towards an agent (CONNECTED): the source first. A carrier call answers the carrier and
 *    attaches its leg to the contact (rl_node_attach_audio); the bridge then starts the media
 *    call with that leg, so the agent hears the caller from the first frame.
 *  - away from an agent (QUEUED again after a transfer, ENDED) and everything else: the
 *    media side first. The agent's media call lets go of the caller's audio before the
 *    source plays hold music on the same leg again, or closes it.
 */
void rl_contact_update(struct rl_contact *c, const Relais__ContactUpdate *u, struct rl_bridge *b, struct rl_client *hub)
{
	int towards_agent = u->state == RELAIS__CONTACT_STATE__CONTACT_CONNECTED;

	if (!towards_agent && b != NULL)
		rl_bridge_update(b, c, u, hub);
	if (c->src != NULL && c->src->ops->on_update != NULL && c->cookie != NULL)
		c->src->ops->on_update(c->src, c->cookie, u);
	if (towards_agent && b != NULL)
		rl_bridge_update(b, c, u, hub);
}

void rl_contact_position(struct rl_contact *c, const Relais__QueuePositionReply *r)
{
	if (c->src != NULL && c->src->ops->on_position != NULL && c->cookie != NULL)
		c->src->ops->on_position(c->src, c->cookie, r);
}

void rl_contact_free(struct rl_contact *c)
{
	if (c == NULL)
		return;
	rl_contact_detach(c);
	free(c->held);
	if (c->facts != NULL)
		relais__contact_record__free_unpacked(c->facts, NULL);
	free(c);
}
