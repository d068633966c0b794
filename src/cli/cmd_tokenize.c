/* cmd_tokenize.c: placeholder until issue 3 lands; says so plainly. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "inferd: this command is not implemented yet (issue 3)\n");
    return 1;
}
