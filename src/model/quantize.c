/* quantize.c: requantizing a GGUF model (quantize.h): dequantize each weight
 * matrix to f32 and quantize it to the target, a group of rows per task on
 * several threads, while the previous batch is written; everything else is
 * copied as it is. */
#include "model/quantize.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf/gguf.h"
#include "model/synth_par.h"
#include "quant/quant.h"

#define TASK_ELEMS (1 << 18)       /* rows per task: about this many values */
#define BATCH_BYTES (16u << 20)    /* output converted while the previous batch is written */

int quantize_file_type(uint32_t type)
{
    switch (type) {
    case QT_F32: return 0;
    case QT_F16: return 1;
    case QT_Q4_0: return 2;
    case QT_Q4_1: return 3;
    case QT_Q8_0: return 7;
    case QT_Q5_0: return 8;
    case QT_Q5_1: return 9;
    case QT_Q2_K: return 10;
    case QT_Q3_K: return 11;
    case QT_Q4_K: return 14;
    case QT_Q5_K: return 16;
    case QT_Q6_K: return 18;
    case QT_BF16: return 32;
    default: return -1;
    }
}

int quantize_target_ok(uint32_t type)
{
    const quant_traits *t = quant_traits_of(type);
    return t && t->supported && quantize_file_type(type) >= 0;
}

uint32_t quantize_type_for_row(uint32_t target, int64_t row_len)
{
    const quant_traits *t = quant_traits_of(target);
    if (t && row_len % t->block_size == 0) return target;
    uint32_t fb;
    switch (target) {
    case QT_Q2_K: case QT_Q3_K: fb = QT_Q4_0; break;
    case QT_Q4_K: fb = QT_Q5_0; break;
    case QT_Q5_K: fb = QT_Q5_1; break;
    case QT_Q6_K: fb = QT_Q8_0; break;
    default: fb = QT_F16; break;
    }
    t = quant_traits_of(fb);
    return row_len % t->block_size == 0 ? fb : QT_F16;
}

/* ---- conversion of one tensor -------------------------------------------- */

typedef struct conv_job {
    const gguf_tensor *src;
    uint32_t out_type;
    int64_t row0;              /* first row of the batch */
    int64_t rows_per_task;
    int64_t rows;              /* rows in the batch */
    uint8_t *out;              /* the batch's output bytes */
    atomic_int failed;         /* a task could not allocate its scratch */
} conv_job;

static void conv_task(void *ctx, uint64_t task)
{
    conv_job *j = ctx;
    const int64_t ne0 = j->src->ne[0];
    const int64_t r0 = (int64_t)task * j->rows_per_task;
    int64_t nr = j->rows - r0 < j->rows_per_task ? j->rows - r0 : j->rows_per_task;
    const size_t in_row = quant_row_size(j->src->type, ne0);
    const size_t out_row = quant_row_size(j->out_type, ne0);
    float *f = malloc((size_t)(nr * ne0) * sizeof *f);
    if (!f) {
        atomic_store(&j->failed, 1);
        return;
    }
    const uint8_t *src = (const uint8_t *)j->src->data + (size_t)(j->row0 + r0) * in_row;
    quant_dequantize(j->src->type, src, f, nr * ne0);
    quant_quantize(j->out_type, f, j->out + (size_t)r0 * out_row, nr * ne0);
    free(f);
}

/* The type tensor t gets in the output. */
static uint32_t out_type_of(const gguf_tensor *t, uint32_t target)
{
    const quant_traits *tr = quant_traits_of(t->type);
    if (t->n_dims < 2 || !tr || !tr->supported) return t->type;
    return quantize_type_for_row(target, t->ne[0]);
}

static int copy_metadata(const gguf_file *in, gguf_writer *w, uint32_t type)
{
    int rc = INF_OK;
    for (int64_t i = 0; i < gguf_kv_count(in) && !rc; i++) {
        const char *key = gguf_kv_key(in, i);
        /* the writer adds general.alignment itself; the other two are set below */
        if (!strcmp(key, "general.alignment") || !strcmp(key, "general.file_type") ||
            !strcmp(key, "general.quantization_version"))
            continue;
        rc = gguf_writer_set_value(w, key, gguf_kv_value(in, i));
    }
    if (!rc) rc = gguf_writer_set_u32(w, "general.file_type", (uint32_t)quantize_file_type(type));
    if (!rc) rc = gguf_writer_set_u32(w, "general.quantization_version", 2);
    return rc;
}

int quantize_file(const char *in_path, const char *out_path, uint32_t type, int n_threads,
                  quantize_stats *stats, inf_error *err)
{
    gguf_file *in = NULL;
    gguf_writer *w = NULL;
    uint8_t *buf[2] = {NULL, NULL};
    quantize_stats st = {0};
    int rc;
    inf_error_clear(err);
    if (!quantize_target_ok(type))
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "type %s cannot be a quantize target",
                          quant_type_name(type));
    if (n_threads <= 0) n_threads = synth_par_cpu_count();
    if ((rc = gguf_open(in_path, &in, err))) goto out; /* the message names the file */
    struct stat si, so;
    if (!strcmp(in_path, out_path) || (stat(in_path, &si) == 0 && stat(out_path, &so) == 0 &&
                                       si.st_dev == so.st_dev && si.st_ino == so.st_ino)) {
        rc = inf_errorf(err, INF_ERR_INVALID, "output would overwrite the input %s", in_path);
        goto out;
    }
    /* Largest output row: a batch holds at least one row of any tensor. */
    uint64_t cap = BATCH_BYTES;
    for (int64_t i = 0; i < gguf_tensor_count(in); i++) {
        const gguf_tensor *t = gguf_tensor_at(in, i);
        uint64_t row = quant_row_size(out_type_of(t, type), t->ne[0]);
        if (row > cap) cap = row;
    }
    buf[0] = malloc(cap);
    buf[1] = malloc(cap);
    if (!buf[0] || !buf[1]) {
        rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory for conversion buffers");
        goto out;
    }
    if ((rc = gguf_writer_open(out_path, gguf_alignment(in), &w, err))) goto out;
    rc = copy_metadata(in, w, type);
    for (int64_t i = 0; i < gguf_tensor_count(in) && !rc; i++) {
        const gguf_tensor *t = gguf_tensor_at(in, i);
        rc = gguf_writer_add_tensor(w, t->name, out_type_of(t, type), t->n_dims, t->ne);
    }
    if (!rc) rc = gguf_writer_begin_data(w);

    conv_job jobs[2];
    synth_par par;
    uint64_t pending = 0;
    int cur = 0;
    for (int64_t i = 0; i < gguf_tensor_count(in) && !rc; i++) {
        const gguf_tensor *t = gguf_tensor_at(in, i);
        const uint32_t ot = out_type_of(t, type);
        st.n_tensors++;
        st.bytes_in += t->nbytes;
        if (ot == t->type) {
            st.bytes_out += t->nbytes;
            if (pending) rc = gguf_writer_write_data(w, buf[cur ^ 1], pending);
            pending = 0;
            if (!rc) rc = gguf_writer_write_data(w, t->data, t->nbytes);
            continue;
        }
        st.n_converted++;
        const int64_t ne0 = t->ne[0];
        const int64_t rows = (int64_t)(t->nbytes / quant_row_size(t->type, ne0));
        const size_t out_row = quant_row_size(ot, ne0);
        st.bytes_out += (uint64_t)rows * out_row;
        int64_t per_task = TASK_ELEMS / ne0;
        if (per_task < 1) per_task = 1;
        int64_t per_batch = (int64_t)(cap / out_row);
        per_batch = per_batch / per_task * per_task;
        if (per_batch < 1) per_batch = 1;
        if (per_task > per_batch) per_task = per_batch;
        for (int64_t r0 = 0; r0 < rows && !rc; r0 += per_batch) {
            const int64_t nr = rows - r0 < per_batch ? rows - r0 : per_batch;
            conv_job *j = &jobs[cur];
            j->src = t;
            j->out_type = ot;
            j->row0 = r0;
            j->rows_per_task = per_task;
            j->rows = nr;
            j->out = buf[cur];
            atomic_init(&j->failed, 0);
            synth_par_start(&par, n_threads, (uint64_t)((nr + per_task - 1) / per_task), conv_task,
                            j);
            if (pending) rc = gguf_writer_write_data(w, buf[cur ^ 1], pending);
            synth_par_wait(&par);
            if (atomic_load(&j->failed) && !rc)
                rc = inf_errorf(err, INF_ERR_NOMEM, "out of memory converting %s", t->name);
            pending = (uint64_t)nr * out_row;
            cur ^= 1;
        }
    }
    if (!rc && pending) rc = gguf_writer_write_data(w, buf[cur ^ 1], pending);
    if (rc) {
        /* A failed writer call left no message: close gives the writer's, and
         * removes the file. A message of ours is kept. */
        inf_error scratch;
        int rc2 = gguf_writer_close(w, (err && err->code) ? &scratch : err);
        if (rc2 == INF_OK) remove(out_path);
        if (!err || !err->code) inf_errorf(err, rc, "writing %s: %s", out_path, inf_status_name(rc));
        w = NULL;
        goto out;
    }
    rc = gguf_writer_close(w, err);
    w = NULL;
    if (!rc && stats) *stats = st;
out:
    gguf_writer_abort(w);
    free(buf[0]);
    free(buf[1]);
    gguf_close(in);
    return rc;
}
