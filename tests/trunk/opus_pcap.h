/*
 * opus_pcap.h - a carrier's Opus audio as a capture file, for sipp's play_pcap_audio.
 *
 * sipp plays RTP only from a pcap, and ships G.711 ones only. This writes an Opus one from
 * PCM: 20 ms Opus packets (libopus, application VOIP, in-band FEC) in RTP on the Opus clock
 * (RFC 7587: 48000, 960 per 20 ms whatever the audio rate), each in UDP, IPv4 and Ethernet
 * headers, in a classic libpcap file (magic 0xa1b2c3d4, little-endian, linktype 1), captured
 * 20 ms apart. sipp keeps the payload and the RTP header and rewrites the addresses and ports
 * (and the UDP checksum), so those in the file are placeholders.
 */
#ifndef OPUS_PCAP_H
#define OPUS_PCAP_H

#include <stddef.h>
#include <stdint.h>

/* rl_opus_pcap_write encodes pcm[0..n) - mono at rate Hz: 8000, 12000, 16000, 24000 or 48000 -
 * and writes it to a new file at path (truncated if it exists): one RTP packet per 20 ms,
 * payload type pt (96..127), SSRC ssrc, sequence numbers from 1 and timestamps from 0, the
 * marker bit on the first. A last partial frame is completed with silence. *npkts (may be
 * NULL) gets the number of packets written. Errors: RL_EINVAL (rate, pt, n 0), RL_EPROTO
 * (libopus refused to encode), RL_ENOMEM, RL_EIO (the file; it may then be partly written). */
int rl_opus_pcap_write(const char *path, const int16_t *pcm, size_t n, unsigned rate, int pt, uint32_t ssrc,
                       unsigned *npkts);

#endif
