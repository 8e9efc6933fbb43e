/*
 * rl_emodel.h - call quality as a MOS estimate, by a simplified E-model (ITU-T G.107).
 *
 * R = R0 - Id(delay) - Ie_eff(codec, loss) (simultaneous impairments and advantage factor
 * left at their defaults), then MOS from R (G.107 Annex B). Delay impairment per G.107's
 * simplified form (Cole & Rosenbluth): Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3), d in ms
 * of mouth-to-ear delay. Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl).
 */
#ifndef RL_EMODEL_H
#define RL_EMODEL_H

enum rl_emodel_codec {
	RL_EMODEL_G711 = 0, /* Ie 0, Bpl 4.3 (no PLC) / 25.1 (with PLC, G.113 Appendix I) */
	RL_EMODEL_OPUS_NB,  /* Opus narrowband with PLC and FEC */
	RL_EMODEL_OPUS_WB,  /* Opus wideband, rated on the narrowband scale */
};

struct rl_emodel_in {
	int codec;          /* enum rl_emodel_codec */
	double delay_ms;    /* one-way mouth-to-ear: network + jitter buffer + codec/packetisation */
	double loss_pct;    /* 0..100, after FEC recovery */
	double burst_ratio; /* BurstR, 1 for random loss */
};

/* rl_emodel_r returns the transmission rating R (0..100). */
double rl_emodel_r(const struct rl_emodel_in *in);

/* rl_emodel_mos returns the MOS (1.0..4.5) for R. */
double rl_emodel_mos_from_r(double r);

/* rl_emodel_mos = rl_emodel_mos_from_r(rl_emodel_r(in)). */
double rl_emodel_mos(const struct rl_emodel_in *in);

#endif
