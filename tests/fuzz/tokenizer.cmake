# Tokenizer: random bytes as text (SentencePiece and byte-level BPE with every
# pre-tokenizer flavour, with and without special parsing) and as ids for the
# streaming detokenizer, over small vocabularies the target builds in memory.
inferd_add_fuzzer(tokenizer LIBS inferd_tokenizer inferd_core)
