/* cuda_probe.h: is a usable NVIDIA GPU present? Compiles as C and C++.
 * The CUDA backend proper (the op table) arrives with its own issue; this probe
 * is what `--device auto` and the CPU fallback message are built on. */
#ifndef INFERD_CUDA_PROBE_H
#define INFERD_CUDA_PROBE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices usable by this process (0 when none or no driver).
 * On 0, msg (when non-NULL) receives the reason, e.g. "no CUDA driver found".
 * On success, msg receives the first device's name and memory. Any thread. */
int cuda_probe_devices(char *msg, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
