// cuda_probe.cu: see cuda_probe.h.
#include "backend/cuda/cuda_probe.h"

#include <cstdio>
#include <cuda_runtime.h>

extern "C" int cuda_probe_devices(char *msg, size_t cap)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        if (msg && cap) snprintf(msg, cap, "no usable CUDA device (%s)",
                                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 0;
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess && msg && cap)
        snprintf(msg, cap, "%s, %.1f GiB, compute capability %d.%d", prop.name,
                 (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.major, prop.minor);
    return n;
}
