# bench/cpu_kernels_bench.c: matvec GB/s and n=512 GFLOP/s per weight format (a
# benchmark, not a test).
inferd_add_tool(cpu_kernels_bench SOURCES ${PROJECT_SOURCE_DIR}/bench/cpu_kernels_bench.c LIBS inferd_backend)
