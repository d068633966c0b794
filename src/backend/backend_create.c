/* backend_create.c: backends by name, for the command line and the server
 * (`--backend ref|cpu|cuda|auto`). Each implementation adds one line to the table;
 * "auto" picks cuda when a GPU is usable, else the CPU backend, and says why. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/ref/ref.h"
#ifdef INFERD_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_probe.h"
#endif

typedef struct be_entry {
    const char *name;
    int (*create)(int n_threads, be_backend **out, inf_error *err);
} be_entry;

static int ref_create(int n_threads, be_backend **out, inf_error *err)
{
    (void)n_threads; /* the oracle is single-threaded by design */
    return be_ref_create(out, err);
}

/* The default is "auto" (be_default_name). */
static const be_entry entries[] = {
    {"ref", ref_create},
    {"cpu", be_cpu_create},
#ifdef INFERD_HAVE_CUDA
    {"cuda", be_cuda_create},
#endif
};

/* "auto": cuda when this build has it and a GPU is usable, else cpu. */
static const char *auto_name(void)
{
#ifdef INFERD_HAVE_CUDA
    char why[256] = "";
    if (cuda_probe_devices(why, sizeof why) > 0) return "cuda";
    fprintf(stderr, "inferd: %s; using the cpu backend\n", why);
#endif
    return "cpu";
}

const char *be_default_name(void)
{
    return "auto";
}

int be_create(const char *name, int n_threads, be_backend **out, inf_error *err)
{
    *out = NULL;
    if (!name) name = be_default_name();
    if (!strcmp(name, "auto")) name = auto_name();
    char list[128] = "";
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        if (!strcmp(entries[i].name, name)) return entries[i].create(n_threads, out, err);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                 entries[i].name);
    }
    return inf_errorf(err, INF_ERR_NOT_FOUND, "unknown backend '%s' (this build has: %s)", name,
                      list);
}
