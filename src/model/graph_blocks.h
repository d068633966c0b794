/* graph_blocks.h: the sub-blocks every architecture family's graph shares
 * (graph_*.c), so each graph file reads as the differences of its family.
 * Internal to src/model/. Each enqueues backend ops on m's activations for the
 * batch's n rows; none waits. */
#ifndef INFERD_MODEL_GRAPH_BLOCKS_H
#define INFERD_MODEL_GRAPH_BLOCKS_H

#include "model/model.h"

/* Self-attention of layer il, up to and including the output projection:
 * a->o = Wo attn(rope(norm_qk(Wq xn + bq)), rope(norm_qk(Wk xn + bk)), Wv xn + bv)
 * with xn = rmsnorm(a->x) (attn_norm); the per-head q/k norms apply when the
 * layer has them, the sliding window when hparams_layer_is_swa. Writes this
 * step's keys and values into kv. The residual add is the caller's. */
void model_graph_attention(model *m, be_kv *kv, uint32_t il, int64_t n);

/* The head: logits of the batch's output rows = Wout rmsnorm(x), soft-capped
 * when final_softcap > 0. Nothing when the batch wants no rows. */
void model_graph_logits(model *m, const model_batch *b);

#endif
