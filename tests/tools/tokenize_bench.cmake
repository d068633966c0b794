# bench/tokenize_bench.c: tokenizer throughput on a large text, optionally checked
# id by id against the peer's output (a benchmark, not a test).
inferd_add_tool(tokenize_bench SOURCES ${PROJECT_SOURCE_DIR}/bench/tokenize_bench.c
                LIBS inferd_tokenizer inferd_gguf inferd_core)
