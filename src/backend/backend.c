/* backend.c: helpers shared by every backend (tensor headers, KV sizing). */
#include "backend/backend.h"

#include <stdio.h>
#include <string.h>

void be_destroy(be_backend *be)
{
    if (be) be->ops->destroy(be);
}

int32_t be_kv_q8_group(int32_t head_dim)
{
    return head_dim % 64 == 0 ? 64 : head_dim;
}

/* One head row of one token: hd values plus, for q8, one f16 scale per group. */
static size_t head_row_bytes(be_kv_dtype dtype, int32_t hd)
{
    if (dtype == BE_KV_Q8) return (size_t)hd + 2 * (size_t)(hd / be_kv_q8_group(hd));
    if (dtype == BE_KV_F32) return 4 * (size_t)hd;
    return 2 * (size_t)hd;
}

size_t be_kv_bytes_per_token(const be_kv_config *cfg)
{
    size_t per_layer = (size_t)cfg->n_kv_head * (head_row_bytes(cfg->dtype, cfg->head_dim_k) +
                                                 head_row_bytes(cfg->dtype, cfg->head_dim_v));
    return per_layer * (size_t)cfg->n_layer;
}

int64_t be_tensor_row_len(const be_tensor *t)
{
    return be_tensor_info_of(t)->ne[0];
}

int64_t be_tensor_rows(const be_tensor *t)
{
    const be_tensor_info *in = be_tensor_info_of(t);
    return in->ne[1] * in->ne[2] * in->ne[3];
}

void be_tensor_info_init(be_tensor_info *info, const char *name, uint32_t type, int n_dims,
                         const int64_t *ne)
{
    INF_ASSERT(n_dims >= 1 && n_dims <= BE_MAX_DIMS);
    memset(info, 0, sizeof *info);
    info->type = type;
    info->n_dims = n_dims;
    for (int i = 0; i < BE_MAX_DIMS; i++) info->ne[i] = i < n_dims ? ne[i] : 1;
    snprintf(info->name, sizeof info->name, "%s", name ? name : "");
}
