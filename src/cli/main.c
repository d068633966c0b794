/* main.c: `inferd COMMAND [ARGS]` dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "dev"
#endif

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "serve a model over an OpenAI-compatible HTTP API"},
    {"run", cmd_run, "generate text from a prompt on the command line"},
    {"bench", cmd_bench, "benchmark any OpenAI-compatible server (sequential, concurrent, prefix)"},
    {"bench-model", cmd_bench_model, "in-process prompt/decode benchmark (like llama-bench)"},
    {"info", cmd_info, "describe a GGUF file: architecture, tensors, tokenizer, memory"},
    {"tokenize", cmd_tokenize, "tokenize text or decode ids with a model's vocabulary"},
    {"synth", cmd_synth, "write a deterministic synthetic model (GGUF)"},
    {"quantize", cmd_quantize, "convert a GGUF file's weights to another format"},
};

static void usage(FILE *out)
{
    fprintf(out, "inferd %s: LLM inference server\n\nusage: inferd COMMAND [ARGS]\n\ncommands:\n",
            INFERD_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`inferd COMMAND --help` describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("inferd %s\n", INFERD_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "inferd: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
