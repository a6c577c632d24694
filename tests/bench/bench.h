/*
 * bench.h - what the files of `make bench` share: one line per figure,
 * and the figure groups kept in their own files.
 */
#ifndef IOSIM_BENCH_H
#define IOSIM_BENCH_H

/* name, value, unit, target ("" for none), met: 1, 0, or -1 (information). */
void bench_figure(const char *name, double v, const char *unit, const char *target, int met);
/* Schedule exploration (bench_explore.c). */
void explore_figures(void);

#endif
