/* synth.h: deterministic synthetic models (`inferd synth`).
 *
 * A synthetic model is a valid GGUF model of a supported architecture with the
 * metadata keys and tensor names llama.cpp's converter writes, random weights
 * scaled so that activations stay bounded through any number of layers
 * (matrices: std 1/sqrt(fan_in); norms: U(0.9, 1.1); biases: std 0.02), and the
 * byte-level BPE vocabulary of vocab_synth.h with a ChatML template. The bytes
 * depend only on the configuration and the seed: the generator is
 * integer-based (synth_rng.h), and every chunk of 2^18 values of a tensor draws
 * from its own stream seeded by (seed, tensor index, chunk index), so the output
 * is the same for any thread count and on any machine.
 *
 * Weights are written straight in the target format (synth_gen.h), streamed
 * through the GGUF writer while the next chunks are generated in parallel. */
#ifndef INFERD_MODEL_SYNTH_H
#define INFERD_MODEL_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "model/hparams.h"

typedef struct synth_config {
    model_hparams hp;        /* architecture and dimensions (hparams_finish'ed by synth_write) */
    uint32_t type;           /* weight type of matrices (quant.h ids) */
    uint64_t seed;
    bool tied;               /* no output.weight: logits reuse token_embd */
    /* Llama 3.1 RoPE scaling written as rope_freqs.weight; factor 0 = none. */
    float llama3_factor, llama3_low, llama3_high;
    uint32_t llama3_orig_ctx;
    char preset[32];         /* for general.name and inferd.synth.preset */
    char pre[16];            /* tokenizer.ggml.pre: "smollm" or "gpt-2" */
} synth_config;

/* Presets: "tiny" and "small" exist for every architecture (tiny < 2 MB, for
 * tests; small has 256-wide rows so that K-quants apply); the named ones imply
 * theirs ("smollm2-135m", "llama3-1b", "llama3-8b", "qwen2.5-0.5b", "qwen3-0.6b",
 * "gemma3-270m", "gemma3-1b"). arch ARCH_UNKNOWN takes the preset's own (llama
 * for tiny and small); asking a named preset for another architecture is an
 * error. Fills *out with type F32, seed 0 and pre "smollm". */
int synth_preset(const char *name, arch_id arch, synth_config *out, inf_error *err);

/* Preset names, for --help: i in 0..synth_preset_count()-1. */
int synth_preset_count(void);
const char *synth_preset_name(int i);
const char *synth_preset_summary(int i);

/* Overrides dimensions from "key=value,..." with keys layers, d, heads,
 * kv_heads, head_dim, ff, vocab, ctx (and swa for sliding-window models).
 * Errors name the key. */
int synth_set_dims(synth_config *c, const char *spec, inf_error *err);

typedef struct synth_stats {
    int64_t n_tensors;
    uint64_t n_params;
    uint64_t data_bytes;     /* tensor data written */
    uint64_t file_bytes;
    double seconds;          /* whole write, including the vocabulary */
} synth_stats;

/* Checks c (dimensions, type, vocabulary size) and writes the model to path with
 * n_threads generator threads (<= 0: one per CPU). On failure the partial file is
 * removed. stats may be NULL. */
int synth_write(const synth_config *c, const char *path, int n_threads, synth_stats *stats,
                inf_error *err);

#endif
