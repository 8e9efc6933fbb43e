/*
 * rl_emodel.c - simplified E-model (ITU-T G.107), narrowband rating scale.
 *
 * R = R0 - Id - Ie_eff with R0 = 93.2 (G.107 default values for every parameter but delay,
 * codec and loss: Ro - Is = 93.2, A = 0). The caller passes the whole one-way mouth-to-ear
 * delay; nothing (packetisation, look-ahead, jitter buffer) is added here.
 *
 * Codec parameters (Ie: impairment with no loss; Bpl: robustness to random packet loss):
 *
 *   G.711 with PLC    Ie 0,  Bpl 25.1  ITU-T G.113 Appendix I (G.711 + Appendix I PLC).
 *   Opus narrowband   Ie 10, Bpl 25    ESTIMATE. Opus has no ITU-T Ie/Bpl. Opus NB at voice
 *                                      bit rates is its SILK layer; published P.862/P.863
 *                                      derived figures for SILK NB and for comparable CELP
 *                                      codecs (iLBC, AMR-NB 12.2: G.113 Ie 5..11) put Ie near
 *                                      10. Bpl 25: SILK's concealment and LBRR in-band FEC
 *                                      perform at least like G.711 PLC; the loss the caller
 *                                      passes is what remains after FEC recovery.
 *   Opus wideband     Ie 0,  Bpl 30    ESTIMATE. Wideband speech is better than any
 *                                      narrowband codec, but on this (narrowband) scale it
 *                                      cannot be rated above the G.711 ceiling, so Ie 0 caps
 *                                      it at R 93.2 (MOS 4.41). Bpl 30 reflects wideband
 *                                      PLC/FEC that degrade more gracefully than narrowband
 *                                      (extended-E-model wideband studies report Bpl in the
 *                                      high 20s to 30s for modern codecs).
 *
 * Unknown codec values are rated as G.711. Inputs are clamped: delay >= 0, loss 0..100,
 * burst_ratio <= 0 (or NaN) means 1 (random loss).
 */
#include "rl_emodel.h"

#include <math.h>

#define EM_R0 93.2

struct em_codec {
	double ie, bpl;
};

static const struct em_codec em_codecs[] = {
    [RL_EMODEL_G711] = {0.0, 25.1},
    [RL_EMODEL_OPUS_NB] = {10.0, 25.0},
    [RL_EMODEL_OPUS_WB] = {0.0, 30.0},
};

double rl_emodel_r(const struct rl_emodel_in *in)
{
	const struct em_codec *c = &em_codecs[RL_EMODEL_G711];
	double d = in->delay_ms, ppl = in->loss_pct, burst = in->burst_ratio;

	if (in->codec >= 0 && (unsigned)in->codec < sizeof(em_codecs) / sizeof(em_codecs[0]))
		c = &em_codecs[in->codec];
	if (!(d > 0))
		d = 0;
	if (!(ppl > 0))
		ppl = 0;
	if (ppl > 100)
		ppl = 100;
	if (!(burst > 0))
		burst = 1;

	/* Id, G.107 simplified (Cole & Rosenbluth): linear, steeper past 177.3 ms. */
	double id = 0.024 * d;
	if (d > 177.3)
		id += 0.11 * (d - 177.3);
	/* Ie_eff, G.107 (7-29). */
	double ie_eff = c->ie + (95.0 - c->ie) * ppl / (ppl / burst + c->bpl);

	double r = EM_R0 - id - ie_eff;
	if (!(r > 0)) /* also NaN from an infinite delay */
		r = 0;
	if (r > 100)
		r = 100;
	return r;
}

double rl_emodel_mos_from_r(double r)
{
	if (!(r > 0))
		return 1.0;
	if (r > 100)
		return 4.5;
	double mos = 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6;
	/* The polynomial dips a hair below 1 for R under ~6.5. */
	return mos < 1.0 ? 1.0 : mos;
}

double rl_emodel_mos(const struct rl_emodel_in *in)
{
	return rl_emodel_mos_from_r(rl_emodel_r(in));
}
