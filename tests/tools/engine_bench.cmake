# bench/engine_bench.c: the engine in process, batching, prefix cache and KV
# dtypes (a benchmark, not a test; figures in bench/RESULTS.md). Built with the
# tools so it keeps compiling.
inferd_add_tool(engine_bench SOURCES ${PROJECT_SOURCE_DIR}/bench/engine_bench.c LIBS inferd_engine)
