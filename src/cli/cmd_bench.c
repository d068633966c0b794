/* cmd_bench.c: placeholder until issue 6 lands; says so plainly. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "inferd: this command is not implemented yet (issue 6)\n");
    return 1;
}
