/* E-model: the G.711 ceiling, monotonic impairments, known points, hostile inputs. */
#include <math.h>

#include "rl_emodel.h"
#include "rltest.h"

static double r_of(int codec, double delay, double loss, double burst)
{
	struct rl_emodel_in in = {codec, delay, loss, burst};
	return rl_emodel_r(&in);
}

static double mos_of(int codec, double delay, double loss, double burst)
{
	struct rl_emodel_in in = {codec, delay, loss, burst};
	return rl_emodel_mos(&in);
}

static int near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

static void ceiling(void)
{
	RL_CHECK(near(r_of(RL_EMODEL_G711, 0, 0, 1), 93.2, 1e-9));
	RL_CHECK(near(mos_of(RL_EMODEL_G711, 0, 0, 1), 4.41, 0.01));
	/* Wideband on the narrowband scale: never above the G.711 ceiling. */
	RL_CHECK(mos_of(RL_EMODEL_OPUS_WB, 0, 0, 1) <= 4.41 + 1e-9);
	RL_CHECK(mos_of(RL_EMODEL_OPUS_NB, 0, 0, 1) < mos_of(RL_EMODEL_G711, 0, 0, 1));
	/* Opus's concealment degrades more gently than G.711 PLC under loss (estimates). */
	RL_CHECK(mos_of(RL_EMODEL_OPUS_WB, 0, 5, 1) > mos_of(RL_EMODEL_G711, 0, 5, 1));
}

static void monotonic(void)
{
	static const double loss[] = {0, 0.5, 1, 2, 5, 10, 20, 50};
	static const double delay[] = {0, 50, 100, 150, 177, 200, 300, 400, 600};
	for (int c = RL_EMODEL_G711; c <= RL_EMODEL_OPUS_WB; c++) {
		for (unsigned i = 1; i < sizeof(loss) / sizeof(loss[0]); i++)
			RL_CHECK(r_of(c, 20, loss[i], 1) < r_of(c, 20, loss[i - 1], 1));
		for (unsigned i = 1; i < sizeof(delay) / sizeof(delay[0]); i++)
			RL_CHECK(r_of(c, delay[i], 1, 1) < r_of(c, delay[i - 1], 1, 1));
		/* Bursty loss hurts more than random loss at the same rate. */
		RL_CHECK(r_of(c, 50, 3, 2) < r_of(c, 50, 3, 1));
	}
	/* The delay knee at 177.3 ms: the slope goes from 0.024 to 0.134 per ms. */
	double below = r_of(RL_EMODEL_G711, 170, 0, 1) - r_of(RL_EMODEL_G711, 160, 0, 1);
	double above = r_of(RL_EMODEL_G711, 210, 0, 1) - r_of(RL_EMODEL_G711, 200, 0, 1);
	RL_CHECK(near(below, -0.24, 1e-9));
	RL_CHECK(near(above, -1.34, 1e-9));
}

static void known_points(void)
{
	/* G.711, 150 ms, no loss: Id = 3.6, R = 89.6, MOS 4.33. */
	RL_CHECK(near(r_of(RL_EMODEL_G711, 150, 0, 1), 89.6, 1e-9));
	RL_CHECK(near(mos_of(RL_EMODEL_G711, 150, 0, 1), 4.33, 0.005));
	/* G.711 + PLC, 2 % random loss, no delay: Ie_eff = 95 * 2 / 27.1 = 7.011, R 86.19, MOS 4.23. */
	RL_CHECK(near(r_of(RL_EMODEL_G711, 0, 2, 1), 93.2 - 190.0 / 27.1, 1e-9));
	RL_CHECK(near(mos_of(RL_EMODEL_G711, 0, 2, 1), 4.235, 0.005));
	/* G.711, 300 ms, no loss: Id = 7.2 + 0.11 * 122.7 = 20.697, R 72.5, MOS 3.71. */
	RL_CHECK(near(r_of(RL_EMODEL_G711, 300, 0, 1), 72.503, 0.001));
	RL_CHECK(near(mos_of(RL_EMODEL_G711, 300, 0, 1), 3.71, 0.01));
	/* Burst ratio 2 at 2 %: Ie_eff = 190 / (1 + 25.1). */
	RL_CHECK(near(r_of(RL_EMODEL_G711, 0, 2, 2), 93.2 - 190.0 / 26.1, 1e-9));
	/* Opus NB (Ie 10, Bpl 25), 1 %: Ie_eff = 10 + 85 / 26. */
	RL_CHECK(near(r_of(RL_EMODEL_OPUS_NB, 0, 1, 1), 93.2 - 10 - 85.0 / 26, 1e-9));

	/* MOS from R, G.107 Annex B. */
	RL_CHECK(rl_emodel_mos_from_r(-5) == 1.0);
	RL_CHECK(rl_emodel_mos_from_r(0) == 1.0);
	RL_CHECK(rl_emodel_mos_from_r(3) >= 1.0); /* the polynomial's dip below 1 is clamped */
	RL_CHECK(near(rl_emodel_mos_from_r(50), 2.575, 1e-9));
	RL_CHECK(near(rl_emodel_mos_from_r(80), 4.024, 1e-9));
	RL_CHECK(near(rl_emodel_mos_from_r(100), 4.5, 1e-9));
	RL_CHECK(rl_emodel_mos_from_r(101) == 4.5);
	double prev = 1.0;
	int mono = 1;
	for (double r = 7; r <= 100; r += 0.5) {
		double m = rl_emodel_mos_from_r(r);
		mono &= m >= prev;
		prev = m;
	}
	RL_CHECK(mono);
}

static void hostile(void)
{
	double r;
	r = r_of(RL_EMODEL_G711, NAN, NAN, NAN);
	RL_CHECK(near(r, 93.2, 1e-9));
	r = r_of(RL_EMODEL_G711, -50, -3, 0);
	RL_CHECK(near(r, 93.2, 1e-9));
	r = r_of(RL_EMODEL_G711, INFINITY, 0, 1);
	RL_CHECK(r == 0);
	r = r_of(RL_EMODEL_G711, 1e6, 500, 1e-300);
	RL_CHECK(r >= 0 && r <= 100);
	r = r_of(99, 0, 0, 1); /* unknown codec: rated as G.711 */
	RL_CHECK(near(r, 93.2, 1e-9));
	r = r_of(-1, 0, 0, 1);
	RL_CHECK(near(r, 93.2, 1e-9));
	RL_CHECK(mos_of(RL_EMODEL_G711, 0, 100, 1) >= 1.0);
	RL_CHECK(near(mos_of(RL_EMODEL_G711, 1000, 100, 1), 1.0, 1e-9));
}

int main(void)
{
	ceiling();
	monotonic();
	known_points();
	hostile();
	return rltest_done();
}
