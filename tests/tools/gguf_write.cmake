# gguf_write DESC.json OUT.gguf: a GGUF file from a JSON description, written by
# inferd's writer (conformance tests: gguf's GGUFReader reads it back).
inferd_add_tool(gguf_write SOURCES ${CMAKE_CURRENT_LIST_DIR}/gguf_write.c
                LIBS inferd_gguf PkgConfig::JANSSON)
