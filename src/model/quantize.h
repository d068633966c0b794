/* quantize.h: converting a GGUF model's weights to another format (`inferd
 * quantize`), and the type rules that `inferd synth` shares with it.
 *
 * Which tensors change: every tensor of two or more dimensions (weight
 * matrices, embeddings; ne[0] is the row) whose row length is a multiple of the
 * target's block size. When it is not, the target's fallback is tried, as
 * llama.cpp does (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> Q4_0),
 * then F16. One-dimensional tensors (norms, biases, rope_freqs) keep their type,
 * as do tensors in a type inferd cannot decode (copied byte for byte). All
 * metadata is copied in order; general.file_type is set to the target's and
 * general.quantization_version to 2. */
#ifndef INFERD_MODEL_QUANTIZE_H
#define INFERD_MODEL_QUANTIZE_H

#include <stdint.h>

#include "core/error.h"

/* general.file_type (llama.cpp's llama_ftype) of a file whose weights are mostly
 * `type`: ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q4_1 3, Q8_0 7, Q5_0 8, Q5_1 9, Q2_K 10,
 * Q3_K_S 11, Q4_K_S 14, Q5_K_S 16, Q6_K 18, BF16 32; -1 for other types. */
int quantize_file_type(uint32_t type);

/* The type a matrix with rows of row_len elements gets when `target` is asked
 * for: target itself when rows are whole blocks, else the fallback chain above. */
uint32_t quantize_type_for_row(uint32_t target, int64_t row_len);

/* True when `type` can be the target of quantize (and synth): a weight format
 * inferd can both write and read, with a general.file_type. */
int quantize_target_ok(uint32_t type);

typedef struct quantize_stats {
    int64_t n_tensors;          /* tensors in the file */
    int64_t n_converted;        /* tensors whose type changed */
    uint64_t bytes_in, bytes_out; /* tensor data */
} quantize_stats;

/* Reads in_path, writes out_path with weights in `type` (see above), using
 * n_threads threads (<= 0: one per CPU). Streams tensor by tensor: memory is a
 * few chunks, whatever the model size. On failure out_path is removed. stats may
 * be NULL. */
int quantize_file(const char *in_path, const char *out_path, uint32_t type, int n_threads,
                  quantize_stats *stats, inf_error *err);

#endif
