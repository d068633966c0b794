# Chat templates: random sources compiled and rendered (bounded steps, output,
# memory and macro depth) over a fixed chat context or a JSON one after a NUL.
inferd_add_fuzzer(template LIBS inferd_template)
