# bench/quant_bench.c: dequantize throughput per weight format (a benchmark, not
# a test; figures in bench/RESULTS.md). Built with the tools so it keeps compiling.
inferd_add_tool(quant_bench SOURCES ${PROJECT_SOURCE_DIR}/bench/quant_bench.c LIBS inferd_quant)
