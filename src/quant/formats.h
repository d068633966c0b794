/* formats.h: the per-format row functions behind the traits table (internal to
 * src/quant/; everyone else goes through quant.h).
 *
 * Each dequantize reads n / QK blocks from src and writes n floats; each quantize
 * reads n floats and writes n / QK blocks. n is a multiple of the block size
 * (the public wrappers check it). Pure functions, any thread. */
#ifndef INFERD_QUANT_FORMATS_H
#define INFERD_QUANT_FORMATS_H

#include <stdint.h>

void quant_f32_dequantize(const void *src, float *dst, int64_t n);
void quant_f32_quantize(const float *src, void *dst, int64_t n);
void quant_f16_dequantize(const void *src, float *dst, int64_t n);
void quant_f16_quantize(const float *src, void *dst, int64_t n);
void quant_bf16_dequantize(const void *src, float *dst, int64_t n);
void quant_bf16_quantize(const float *src, void *dst, int64_t n);

void quant_q4_0_dequantize(const void *src, float *dst, int64_t n);
void quant_q4_0_quantize(const float *src, void *dst, int64_t n);
void quant_q4_1_dequantize(const void *src, float *dst, int64_t n);
void quant_q4_1_quantize(const float *src, void *dst, int64_t n);
void quant_q5_0_dequantize(const void *src, float *dst, int64_t n);
void quant_q5_0_quantize(const float *src, void *dst, int64_t n);
void quant_q5_1_dequantize(const void *src, float *dst, int64_t n);
void quant_q5_1_quantize(const float *src, void *dst, int64_t n);
void quant_q8_0_dequantize(const void *src, float *dst, int64_t n);
void quant_q8_0_quantize(const float *src, void *dst, int64_t n);
void quant_q8_1_dequantize(const void *src, float *dst, int64_t n);
void quant_q8_1_quantize(const float *src, void *dst, int64_t n);

void quant_q2_k_dequantize(const void *src, float *dst, int64_t n);
void quant_q2_k_quantize(const float *src, void *dst, int64_t n);
void quant_q3_k_dequantize(const void *src, float *dst, int64_t n);
void quant_q3_k_quantize(const float *src, void *dst, int64_t n);
void quant_q4_k_dequantize(const void *src, float *dst, int64_t n);
void quant_q4_k_quantize(const float *src, void *dst, int64_t n);
void quant_q5_k_dequantize(const void *src, float *dst, int64_t n);
void quant_q5_k_quantize(const float *src, void *dst, int64_t n);
void quant_q6_k_dequantize(const void *src, float *dst, int64_t n);
void quant_q6_k_quantize(const float *src, void *dst, int64_t n);
void quant_q8_k_dequantize(const void *src, float *dst, int64_t n);
void quant_q8_k_quantize(const float *src, void *dst, int64_t n);

#endif
