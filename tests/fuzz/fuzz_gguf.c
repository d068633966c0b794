/* fuzz_gguf.c: libFuzzer target for the GGUF reader (gguf_open_memory).
 *
 * Any input must either be refused with an error message or open; an opened file
 * is then walked through every accessor (keys, values down every nested array,
 * typed look-ups, tensors by position and by name, each tensor's data bytes), so
 * that whatever open accepted is proven safe to read. ASan/UBSan do the checking.
 * The input is copied into a buffer of exactly its size so that any read past the
 * end is caught. Corpus: tests/fuzz/corpus/gguf/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void touch_value(const gguf_value *v, int depth)
{
    if (depth > 64) __builtin_trap(); /* the reader caps nesting far below this */
    switch (v->type) {
    case GGUF_VT_STRING:
        for (uint64_t i = 0; i < v->v.str.len; i++) sink += (unsigned char)v->v.str.ptr[i];
        break;
    case GGUF_VT_ARRAY:
        for (uint64_t i = 0; i < v->v.arr.count; i++) {
            if (v->v.arr.items)
                touch_value(&v->v.arr.items[i], depth + 1);
            else
                sink += (uint64_t)gguf_arr_i64(v, i) + (uint64_t)gguf_arr_f64(v, i);
        }
        break;
    default:
        sink += v->v.u64;
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    gguf_file *f = NULL;
    inf_error err = {0};
    if (gguf_open_memory(copy, size, &f, &err) != INF_OK) {
        if (f || !err.msg[0]) __builtin_trap(); /* failures leave no file and say why */
        free(copy);
        return 0;
    }
    for (int64_t i = 0; i < gguf_kv_count(f); i++) {
        const char *key = gguf_kv_key(f, i);
        if (gguf_kv_find(f, key) != i) __builtin_trap();
        touch_value(gguf_kv_value(f, i), 0);
        uint32_t u32; int64_t i64; uint64_t u64; float f32; bool b; gguf_str s;
        const gguf_value *a;
        gguf_get_u32(f, key, &u32, &err);
        gguf_get_i64(f, key, &i64, &err);
        gguf_get_u64(f, key, &u64, &err);
        gguf_get_f32(f, key, &f32, &err);
        gguf_get_bool(f, key, &b, &err);
        gguf_get_str(f, key, &s, &err);
        gguf_get_arr(f, key, GGUF_VT_COUNT, &a, &err);
    }
    for (int64_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (gguf_tensor_find(f, t->name) != t) __builtin_trap();
        const uint8_t *p = t->data;
        /* first and last byte: both must lie inside the buffer */
        if (t->nbytes) sink += p[0] + p[t->nbytes - 1];
    }
    sink += gguf_version(f) + gguf_alignment(f) + gguf_data_offset(f);
    gguf_close(f);
    free(copy);
    return 0;
}
