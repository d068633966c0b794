# tok_tool MODEL.gguf [flags]: JSON lines in (strings to tokenize, id arrays to
# decode), JSON lines out; the tokenizer conformance tests batch through it.
inferd_add_tool(tok_tool SOURCES ${CMAKE_CURRENT_LIST_DIR}/tok_tool.c
                LIBS inferd_tokenizer inferd_gguf inferd_core PkgConfig::JANSSON)
