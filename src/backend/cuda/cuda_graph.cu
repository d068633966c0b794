// cuda_graph.cu: recording a step's ops as a CUDA graph and replaying it
// (backend.h, "Step recording").
//
// Why: a decode step of an 8B model is ~500 small kernels; issued one by one,
// the launch cost and the gaps between them were ~3.5 ms a token against ~1.5 ms
// of weight streaming. A graph replay issues them all at once.
//
// Why replays are valid: every op reads the batch from the fixed buffers of
// cu_batch (positions, block tables, ... are data, not launch arguments), and
// every launch shape depends only on the caller's key (model, pool, row and
// output counts) plus what the full key below adds: the sequence count (which
// fixes the offsets of the index arrays in the batch buffer) and kv_cap (which
// fixes the attention split count). Memory a recording points at must not move:
// every reallocation calls cu_graph_reset, which drops all recordings.
//
// Only steps of up to CU_GRAPH_MAX_ROWS rows are recorded (decode and batched
// decode): a prefill step is a few large kernels, and its row count rarely
// repeats. A shape is recorded the second time it comes (the first runs op by
// op and is remembered), so that one-off shapes, such as the last chunk of a
// short prompt, do not pay for a capture and an instantiation they never use.
// Recordings live in a small cache, the least recently used replaced.
#include <cstdlib>
#include <cstring>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_common.cuh"

extern "C" {
#include "core/hash.h"
#include "core/log.h"
}

namespace {

constexpr int32_t CU_GRAPH_MAX_ROWS = 64;

uint64_t full_key(const cu_backend *cb, uint64_t key)
{
    int32_t shape[4] = {cb->batch.n, cb->batch.n_seq, cb->batch.n_out, cb->batch.kv_cap};
    return inf_hash_bytes(shape, sizeof shape, key);
}

cu_graph_slot *find(cu_backend *cb, uint64_t key)
{
    for (int i = 0; i < CU_GRAPH_SLOTS; i++)
        if (cb->graphs[i].exec && cb->graphs[i].key == key) return &cb->graphs[i];
    return nullptr;
}

cu_graph_slot *victim(cu_backend *cb)
{
    cu_graph_slot *v = &cb->graphs[0];
    for (int i = 0; i < CU_GRAPH_SLOTS; i++) {
        if (!cb->graphs[i].exec) return &cb->graphs[i];
        if (cb->graphs[i].used < v->used) v = &cb->graphs[i];
    }
    cudaGraphExecDestroy(v->exec);
    v->exec = nullptr;
    return v;
}

} // namespace

extern "C" void be_cuda_graph_counts(const be_backend *be, uint64_t *recorded, uint64_t *replayed)
{
    const cu_backend *cb = (const cu_backend *)be;
    INF_ASSERT(be && be->name && strcmp(be->name, "cuda") == 0);
    *recorded = cb->graph_recorded;
    *replayed = cb->graph_replayed;
}

void cu_graph_reset(cu_backend *cb)
{
    for (int i = 0; i < CU_GRAPH_SLOTS; i++) {
        if (cb->graphs[i].exec) cudaGraphExecDestroy(cb->graphs[i].exec);
        cb->graphs[i].exec = nullptr;
    }
}

int cu_graph_begin(be_backend *be, uint64_t key)
{
    cu_backend *cb = CU_BE(be);
    INF_ASSERT(!cb->graph_recording);
    if (cb->graph_off || cb->err_code || cb->batch.n > CU_GRAPH_MAX_ROWS) return BE_GRAPH_OFF;
    uint64_t k = full_key(cb, key);
    cu_graph_slot *g = find(cb, k);
    if (g) {
        g->used = ++cb->graph_clock;
        cb->graph_replayed++;
        cudaError_t e = cudaGraphLaunch(g->exec, cb->stream);
        if (e != cudaSuccess) cu_record(cb, e, "graph replay");
        return BE_GRAPH_REPLAYED;
    }
    bool seen = false;
    for (int i = 0; i < CU_GRAPH_SEEN && !seen; i++) seen = cb->graph_seen[i] == k;
    if (!seen) {
        cb->graph_seen[cb->graph_seen_next++ % CU_GRAPH_SEEN] = k;
        return BE_GRAPH_OFF;
    }
    // Thread-local: only this thread's calls are checked against the capture.
    cudaError_t e = cudaStreamBeginCapture(cb->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        cudaGetLastError();
        cb->graph_off = true;
        return BE_GRAPH_OFF;
    }
    cb->graph_key = k;
    cb->graph_recording = true;
    return BE_GRAPH_RECORDING;
}

int cu_graph_end(be_backend *be, inf_error *err)
{
    cu_backend *cb = CU_BE(be);
    INF_ASSERT(cb->graph_recording);
    cb->graph_recording = false;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t e = cudaStreamEndCapture(cb->stream, &graph);
    if (e == cudaSuccess && !cb->err_code) e = cudaGraphInstantiate(&exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (e != cudaSuccess || cb->err_code) {
        // Nothing of the step ran. Record no more; the caller issues the ops
        // again, and the failure of a launch during capture is forgotten (the
        // eager run reports its own).
        if (exec) cudaGraphExecDestroy(exec);
        cudaGetLastError();
        const char *why = e != cudaSuccess ? cudaGetErrorString(e) : cb->err_msg;
        INF_WARN("cuda: recording a step of %d rows failed (%s); running ops one by one from "
                 "now on", cb->batch.n, why);
        cb->err_code = 0;
        cb->graph_off = true;
        return inf_errorf(err, INF_ERR_UNSUPPORTED, "cuda: step recording failed (%s)", why);
    }
    cu_graph_slot *g = victim(cb);
    g->key = cb->graph_key;
    g->exec = exec;
    g->used = ++cb->graph_clock;
    cb->graph_recorded++;
    e = cudaGraphLaunch(exec, cb->stream);
    if (e != cudaSuccess) cu_record(cb, e, "graph launch");
    return INF_OK;
}
