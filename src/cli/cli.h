/* cli.h: the subcommands of the inferd binary. Each cmd_* lives in its own file
 * (cmd_<name>.c), parses its own flags and calls into the library parts; no logic
 * that a library part should own lives here. Each returns the process exit code
 * (0 ok, 1 runtime failure, 2 usage error). */
#ifndef INFERD_CLI_H
#define INFERD_CLI_H

int cmd_info(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench_model(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
