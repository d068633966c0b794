# bench/gguf_open_bench.c: open-and-list and write-throughput benchmark for GGUF
# (a benchmark, not a test; figures in bench/RESULTS.md). Built with the tools so
# that it keeps compiling.
inferd_add_tool(gguf_open_bench SOURCES ${PROJECT_SOURCE_DIR}/bench/gguf_open_bench.c
                LIBS inferd_gguf)
