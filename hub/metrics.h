/*
 * metrics.h - the hub's metrics for Prometheus: rendered by the engine (metrics.c), served
 * over HTTP by scrape.c.
 */
#ifndef RL_HUB_METRICS_H
#define RL_HUB_METRICS_H

#include <stddef.h>

#include "engine.h"
#include "rl_scrape.h"

/* rl_engine_metrics renders the hub's metrics in Prometheus's text format into t (replacing
 * what it held). Engine thread. */
void rl_engine_metrics(struct rl_engine *e, struct rl_text *t);

#endif
