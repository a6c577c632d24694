/*
 * views.c - what the commands that show the machine at a step share
 * (iosim irp, devstack, thread, dpcs, irpfind, port, why): the options
 * --db, --run and --at, opening the trace, loading the run into the
 * machine-state model (state.h) and moving it to the step asked for.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_view_opt(cli_view_t *v, int ch, const char *arg) {
  switch (ch) {
  case 'd': v->db_path = arg; return 1;
  case 'a': v->at = arg; return 1;
  case 'r': {
    char *end;
    unsigned long long n = strtoull(arg, &end, 10);
    if (!*arg || *end || *arg == '-' || n == 0) {
      fprintf(stderr, "iosim %s: --run needs a run number (1, 2, ...), not '%s'\n", v->cmd, arg);
      return -1;
    }
    v->run = n;
    return 1;
  }
  default: return 0;
  }
}

int cli_view_open(cli_view_t *v) {
  char err[1024];
  if (!v->db_path) {
    fputs(v->usage, stderr);
    return 2;
  }
  /* A malformed --at is bad input whatever the file: said before opening it. */
  int64_t ns;
  if (v->at && v->at[0] != '#' && tracedb_parse_time(v->at, &ns) != 0) {
    fprintf(stderr, "iosim %s: --at needs a step (#48) or a time with its unit (204.6us, 204600ns, 1.5ms), not '%s'%s\n",
            v->cmd, v->at, strspn(v->at, "0123456789.") == strlen(v->at) ? " (a bare number could mean either)" : "");
    return 2;
  }
  v->db = tracedb_open_readonly(v->db_path, err, sizeof err);
  if (!v->db) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  v->r = mst_load(v->db, (int64_t)v->run, err, sizeof err);
  if (!v->r) {
    fprintf(stderr, "%s: %s\n", v->db_path, err);
    cli_view_close(v);
    return 2;
  }
  uint64_t step = mst_run_steps(v->r);
  if (v->at && mst_parse_at(v->r, v->at, &step, err, sizeof err) != 0) {
    fprintf(stderr, "iosim %s: %s\n", v->cmd, err);
    cli_view_close(v);
    return 2;
  }
  v->m = mst_new(v->r);
  mst_seek(v->m, step);
  return 0;
}

void cli_view_close(cli_view_t *v) {
  mst_free(v->m);
  mst_run_free(v->r);
  tracedb_close(v->db);
  v->m = NULL;
  v->r = NULL;
  v->db = NULL;
}

int cli_view_find(cli_view_t *v, mst_what_t what, const char *text, uint32_t *id) {
  char err[1024];
  if (mst_find(v->r, what, text, id, err, sizeof err) == 0) return 0;
  fprintf(stderr, "%s: %s\n", v->db_path, err);
  return 2;
}

int cli_view_args(cli_view_t *v, int argc, char **argv, const char *name, const char **value) {
  struct option opts[] = {CLI_VIEW_OPTS, {name ? name : "", required_argument, 0, 'n'}, {0, 0, 0, 0}};
  if (!name) opts[4] = (struct option){0, 0, 0, 0};
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, CLI_VIEW_SHORT, opts, NULL)) != -1) {
    if (ch == 'h') {
      fputs(v->usage, stdout);
      return 0;
    }
    if (ch == 'n') {
      *value = optarg;
      continue;
    }
    int k = cli_view_opt(v, ch, optarg);
    if (k < 0) return 2;
    if (k == 0) {
      fputs(v->usage, stderr);
      return 2;
    }
  }
  if (optind != argc) {
    fputs(v->usage, stderr);
    return 2;
  }
  return -1;
}
