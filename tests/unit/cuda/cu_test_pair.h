/* cu_test_pair.h: the reference and CUDA backends of a CUDA test and tensors
 * made on both (a pair), for the tests that compare the two matmul by matmul
 * (test_cuda_mmq, test_cuda_mmf, test_cuda_mmvq_k). Each test sets ref and cu
 * in main. Failures to allocate fail the test. */
#ifndef INFERD_TESTS_CU_TEST_PAIR_H
#define INFERD_TESTS_CU_TEST_PAIR_H

#include <stdint.h>

#include "backend/backend.h"
#include "check.h"
#include "quant/quant.h"

static be_backend *ref, *cu;

typedef struct pair {
    be_tensor *r, *c;
} pair;

static inline be_tensor *cu_act(int64_t rows, int64_t width)
{
    int64_t ne[2] = {width, rows};
    be_tensor *t = NULL;
    inf_error err;
    int rc = be_tensor_alloc(cu, "a", 2, ne, &t, &err);
    CHECK_MSG(rc == 0, "cuda alloc: %s", err.msg);
    INF_ASSERT(rc == 0);
    return t;
}

static inline pair act(int64_t rows, int64_t width)
{
    pair p = {NULL, cu_act(rows, width)};
    int64_t ne[2] = {width, rows};
    INF_ASSERT(be_tensor_alloc(ref, "a", 2, ne, &p.r, NULL) == 0);
    return p;
}

/* A weight of `rows` rows of `width` values of `type` uploaded to backend be. */
static inline be_tensor *upload_weight(be_backend *be, uint32_t type, int n_dims, int64_t rows,
                                       int64_t width, const void *data)
{
    int64_t ne[2] = {width, rows};
    be_tensor *t = NULL;
    inf_error err;
    int rc = be_weight_upload(be, "w", type, n_dims, ne, data,
                              quant_row_size(type, width) * (size_t)rows, &t, &err);
    CHECK_MSG(rc == 0, "%s upload %s: %s", be == cu ? "cuda" : "ref", quant_type_name(type), err.msg);
    INF_ASSERT(rc == 0);
    return t;
}

static inline be_tensor *cu_weight(uint32_t type, int n_dims, int64_t rows, int64_t width, const void *data)
{
    return upload_weight(cu, type, n_dims, rows, width, data);
}

static inline pair weight(uint32_t type, int n_dims, int64_t rows, int64_t width, const void *data)
{
    pair p = {NULL, cu_weight(type, n_dims, rows, width, data)};
    int64_t ne[2] = {width, rows};
    INF_ASSERT(be_weight_upload(ref, "w", type, n_dims, ne, data,
                                quant_row_size(type, width) * (size_t)rows, &p.r, NULL) == 0);
    return p;
}

static inline void free_pair(pair p)
{
    be_tensor_free(ref, p.r);
    be_tensor_free(cu, p.c);
}

static inline void cu_read_rows(be_tensor *t, int64_t n, float *dst)
{
    inf_error err;
    int rc = be_read(cu, t, 0, n, dst, &err);
    CHECK_MSG(rc == 0, "cuda read: %s", err.msg);
}

#endif
