/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cmd-map - the /dev/mapper side of umlcow-setup: open, close, list, table.
 *
 * Each handler takes the subcommand's own argument vector (argv[0] is the
 * subcommand name, options and operands follow) and returns the exit
 * status: 0 success, 1 failure, 2 usage. Messages go to stderr as
 * "umlcow-setup: FILE: what went wrong"; results (the device path, the
 * list, the table line) to stdout.
 *
 *   open [--read-only] [--name NAME] [--backing PATH] [--force]
 *        [--layout L] [--no-discard] FILE.cow
 *   close NAME|FILE.cow
 *   list [--json]
 *   table --cow-dev DEV --backing-dev DEV [--read-only] [--no-discard]
 *         [--layout L] [--backing PATH] FILE.cow
 */
#ifndef UMLCOW_CMD_MAP_H
#define UMLCOW_CMD_MAP_H

/* The device-mapper target these commands drive. */
#define UMLCOW_TARGET "umlcow"

int cmd_open(int argc, char **argv);
int cmd_close(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_table(int argc, char **argv);

/* One-line summaries and full help texts, for the command table. */
extern const char cmd_open_help[];
extern const char cmd_close_help[];
extern const char cmd_list_help[];
extern const char cmd_table_help[];

#endif /* UMLCOW_CMD_MAP_H */
