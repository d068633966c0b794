/* test_runtime_budget.c: the KV pool budget on a device backend
 * (runtime_device_kv_budget): the share of the device left after what is in
 * use, less the scratch reserve. */
#include "check.h"
#include "engine/runtime.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)

int main(void)
{
    /* 80 GiB card, 16 GiB of weights loaded: 0.9 * 80 - 16 - 0.25 = 55.75 GiB. */
    uint64_t b = runtime_device_kv_budget(64 * GiB, 80 * GiB, 0.90);
    CHECK_EQ_INT(b, (uint64_t)(80 * GiB * 0.90) - 16 * GiB - 256 * MiB);
    /* Someone else holds 30 GiB too: their use counts against our share. */
    CHECK_EQ_INT(runtime_device_kv_budget(34 * GiB, 80 * GiB, 0.90),
                 (uint64_t)(80 * GiB * 0.90) - 46 * GiB - 256 * MiB);
    /* The whole card: all that is free but the reserve. */
    CHECK_EQ_INT(runtime_device_kv_budget(1 * GiB, 80 * GiB, 1.0), 1 * GiB - 256 * MiB);
    /* Nothing left of the share: 0, which the runtime turns into a clear error. */
    CHECK_EQ_INT(runtime_device_kv_budget(10 * GiB, 80 * GiB, 0.5), 0);
    CHECK_EQ_INT(runtime_device_kv_budget(40 * GiB + 100 * MiB, 80 * GiB, 0.5), 0);
    /* A smaller fraction gives a smaller pool, monotonically. */
    uint64_t prev = 0;
    for (int i = 3; i <= 10; i++) {
        uint64_t cur = runtime_device_kv_budget(70 * GiB, 80 * GiB, i / 10.0);
        CHECK_MSG(cur >= prev, "fraction %.1f: %llu < %llu", i / 10.0, (unsigned long long)cur,
                  (unsigned long long)prev);
        prev = cur;
    }
    /* Out-of-range fractions fall back to the default 0.90. */
    CHECK_EQ_INT(runtime_device_kv_budget(64 * GiB, 80 * GiB, 0),
                 runtime_device_kv_budget(64 * GiB, 80 * GiB, 0.90));
    CHECK_EQ_INT(runtime_device_kv_budget(64 * GiB, 80 * GiB, 1.5),
                 runtime_device_kv_budget(64 * GiB, 80 * GiB, 0.90));
    return check_done();
}
