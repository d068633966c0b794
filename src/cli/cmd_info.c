/* cmd_info.c: placeholder until issue 2 lands; says so plainly. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "inferd: this command is not implemented yet (issue 2)\n");
    return 1;
}
