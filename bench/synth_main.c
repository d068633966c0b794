/* synth_main.c: a stand-alone `synth` binary (`synth_main synth ARGS`, the same
 * arguments as `inferd synth`) for machines where the whole inferd cannot be
 * built, e.g. a GPU box without the server's libraries. It links only the parts
 * synth needs; bench/synth_write.sh shows the gcc command that builds it. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "synth")) {
        fprintf(stderr, "usage: %s synth [ARGS] (see inferd synth --help)\n", argv[0]);
        return 2;
    }
    return cmd_synth(argc - 1, argv + 1);
}
