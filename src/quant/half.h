/* half.h: the f16 -> f32 conversion as an inline, for the row loops of every
 * format (internal to quant/; others call quant_f16_to_f32). A call per block
 * to another file cost Q4_0 a third of its speed.
 *
 * Branch-free for finite values, so that loops over halves vectorize: the
 * exponent and mantissa bits move to their f32 places, and one multiply by
 * 2^112 rebiases the exponent (15 -> 127); for halves that are subnormal the
 * product renormalises exactly. Inf stays inf; NaN is made quiet, as the x86
 * F16C instruction does. */
#ifndef INFERD_QUANT_HALF_H
#define INFERD_QUANT_HALF_H

#include <stdint.h>
#include <string.h>

static inline float quant_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t em = (uint32_t)(h & 0x7fff) << 13;
    float f;
    memcpy(&f, &em, 4);
    f *= 0x1p112f;
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t special = 0x7f800000 | em | (uint32_t)((em & 0x7fffff) != 0) << 22;
    uint32_t mask = 0u - (uint32_t)(em >= 0x0f800000); /* exponent 31 */
    u = ((special & mask) | (u & ~mask)) | sign;
    memcpy(&f, &u, 4);
    return f;
}

#endif
