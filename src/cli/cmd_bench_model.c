/* cmd_bench_model.c: placeholder until issue 4 lands; says so plainly. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_bench_model(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "inferd: this command is not implemented yet (issue 4)\n");
    return 1;
}
