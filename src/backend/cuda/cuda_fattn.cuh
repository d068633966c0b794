// cuda_fattn.cuh: attention of many query rows at once on tensor cores
// (cuda_fattn.cu), the prefill path of cu_attention (cuda_attn.cu). Contract:
// be_attention in backend.h.
//
// A block takes CU_FATTN_ROWS consecutive batch rows and one head. It serves
// the rows of at most two sequences: that of the tile's first row and that of
// its last (in an engine batch the rows of a sequence are consecutive, so this
// is every row of every tile but those of a third sequence squeezed inside one
// tile, e.g. decode rows of other sequences). cu_fattn_owns says which rows
// those are; cu_attention runs the per-row kernel for the others.
//
// INFERD_CUDA_FATTN=0 in the environment (read once) turns this path off: the
// per-row kernel then runs every row, as before.
#ifndef INFERD_CUDA_FATTN_CUH
#define INFERD_CUDA_FATTN_CUH

#include "backend/cuda/cuda_common.cuh"

#define CU_FATTN_ROWS 64      // query rows of a block
#define CU_FATTN_MIN_ROWS 16  // fewer rows (decode): the per-row kernel pays better

// Whether cu_fattn takes this attention of n rows: n >= CU_FATTN_MIN_ROWS,
// hd == hdv in {64, 128, 256}, KV dtype F16, BF16 or Q8, and not turned off
// by INFERD_CUDA_FATTN=0. Host only; any thread.
bool cu_fattn_usable(const cu_kv *kv, const be_attn *p, int64_t n);

// Enqueues the attention of the rows i < n that cu_fattn_owns (cb->batch's
// pos / seq / block tables) into out (n, h * hdv); leaves the other rows of out
// alone. q (n, h * hd) F32. Requires cu_fattn_usable. No allocation, no sync.
void cu_fattn(cu_backend *cb, float *out, const float *q, const cu_kv *kv, const be_attn *p,
              int64_t n);

// Whether the row is one cu_fattn computes (of n rows in the batch): its
// sequence is that of the first or of the last row of its tile of
// CU_FATTN_ROWS rows. seq: (n) the batch's sequence index of each row.
__device__ __forceinline__ bool cu_fattn_owns(const int32_t *seq, int n, int row)
{
    int r0 = row / CU_FATTN_ROWS * CU_FATTN_ROWS;
    int r1 = min(r0 + CU_FATTN_ROWS, n) - 1;
    int s = seq[row];
    return s == seq[r0] || s == seq[r1];
}

#endif
