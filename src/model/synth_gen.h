/* synth_gen.h: random weights of a given standard deviation, written straight
 * in a weight format (no float intermediate for block formats).
 *
 * Block formats get uniformly random quants (random bytes) and f16 scales chosen
 * so that the dequantized values have mean ~0 and standard deviation ~sigma
 * (each block's scale jittered by +-25%); affine formats (Q4_1, Q5_1, K-quants
 * with mins) get the min that centres the block. Float formats get uniform
 * values in [-sqrt(3) sigma, sqrt(3) sigma). That is how `inferd synth` writes
 * an 8B model at disk speed: a few random words per block. */
#ifndef INFERD_MODEL_SYNTH_GEN_H
#define INFERD_MODEL_SYNTH_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "model/synth_rng.h"

/* True when synth_gen_fill can write this type. */
bool synth_gen_supported(uint32_t type);

/* Fills dst with n values (n a multiple of the type's block size) in `type`,
 * drawing from r. */
void synth_gen_fill(uint32_t type, synth_rng *r, float sigma, int64_t n, void *dst);

#endif
