/*
 * announce.h - what a caller waiting in queue is told: position and expected wait, spoken by
 * chaining recorded prompts.
 *
 * A prompt set is a directory of WAV files (one per language or voice):
 *   queue-position.wav   "You are caller number"      then the position as a number
 *   queue-wait.wav       "Your expected wait is about"
 *   minute.wav / minutes.wav                           after the number of minutes
 *   queue-wait-short.wav "less than a minute" (used below 60 s)
 *   <n>.wav              numbers: 0..20, the tens 30..90, 100..900 by hundreds at least;
 *                        any other number that has a file of its own is said whole (a
 *                        language whose 71 or 99 is irregular records it), otherwise it is
 *                        built as hundreds, then tens, then units.
 * A caller whose IVR answers include lang=<x> hears the set in <dir>/<x> when that
 * directory exists (e.g. prompts/ar next to prompts/fr), else the one in <dir>.
 * A missing file is left out (the rest is still said); a wait that is not known (nobody
 * works the queue) is not announced, only the position. Positions and minutes over 999 are
 * said as 999.
 */
#ifndef RL_ANNOUNCE_H
#define RL_ANNOUNCE_H

#include <stdint.h>

#include "ivr.h"

#define RL_ANNOUNCE_MAX 12 /* files in one announcement */

/* rl_announce_dir writes into out (RL_IVR_PATH) the prompt set for a caller who chose lang
 * (NULL or "" = none): dir/lang if that directory exists, else dir. lang must be a plain name
 * (letters, digits, '-', '_'): anything else is ignored. */
void rl_announce_dir(char out[RL_IVR_PATH], const char *dir, const char *lang);

/* rl_announce_files fills paths with the files to play, in order, for a caller at position
 * (>= 1) with an expected wait of ewt_s seconds (ewt_known 0: not said). Returns how many. */
int rl_announce_files(const char *dir, uint32_t position, int ewt_known, uint32_t ewt_s,
                      char paths[RL_ANNOUNCE_MAX][RL_IVR_PATH]);

#endif
