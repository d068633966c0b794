# GGUF reader (gguf_open_memory + every accessor on what it accepts).
inferd_add_fuzzer(gguf LIBS inferd_gguf)
