# gguf_dump FILE: inferd's reading of a GGUF file as JSON (conformance tests).
inferd_add_tool(gguf_dump SOURCES ${CMAKE_CURRENT_LIST_DIR}/gguf_dump.c
                LIBS inferd_gguf PkgConfig::JANSSON)
