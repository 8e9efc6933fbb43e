#include "rl_opus.h"

#include "rl_alloc.h"

void rl_opus_open(unsigned rate, int application, int bps, OpusEncoder **enc, OpusDecoder **dec)
{
	int err;

	/* With a valid rate and application only memory can fail. */
	if ((*enc = opus_encoder_create((opus_int32)rate, 1, application, &err)) == NULL)
		rl_oom((size_t)opus_encoder_get_size(1));
	if ((*dec = opus_decoder_create((opus_int32)rate, 1, &err)) == NULL)
		rl_oom((size_t)opus_decoder_get_size(1));
	opus_encoder_ctl(*enc, OPUS_SET_VBR(1));
	opus_encoder_ctl(*enc, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(*enc, OPUS_SET_PACKET_LOSS_PERC(5));
	opus_encoder_ctl(*enc, OPUS_SET_COMPLEXITY(5));
	opus_encoder_ctl(*enc, OPUS_SET_BITRATE(bps));
	opus_encoder_ctl(*enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
}
