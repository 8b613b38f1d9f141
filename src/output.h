/*
 * output.h - what a person sees while a run goes: one line per unit with a
 * status mark, name, target and duration; on a terminal a live elapsed
 * timer for the running unit; without one, plain timestamped lines and no
 * escape codes. On failure the last 20 lines of the unit's output.
 *
 * It is an engine listener (output_on_event) and the gate prompter
 * (output_ask). Everything it prints has been masked by the engine.
 */
#ifndef MIGRATE_OUTPUT_H
#define MIGRATE_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine.h"

#define OUTPUT_FAIL_LINES 20
/* Longer output lines are shown cut, with " …". */
#define OUTPUT_LINE_MAX 500

/* ANSI colours, used only when colour is on (--color, NO_COLOR, a terminal). */
#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_CYAN "\033[36m"

struct output;

/* tty: draw live (carriage returns, timer); color: ANSI colours; verbosity -1/0/1. */
struct output *output_create(FILE *fp, bool tty, bool color, int verbosity);
void output_free(struct output *o);
void output_on_event(void *ctx, const struct event *ev);
/* engine_opts.ask (struct gate_prompt): ask on /dev/tty when stdin is a terminal; -1 otherwise. */
struct gate_prompt;
int output_ask(void *ctx, const struct gate_prompt *gp);

/*
 * Append s (len bytes) to out with every control character shown, so that
 * text from a step or a journal cannot move the cursor, retitle the
 * terminal or overwrite a line: a C0 control or DEL as ^X (ESC is ^[, CR is
 * ^M, NUL is ^@), a C1 control (U+0080..U+009F) as \u0080..\u009f; tab and
 * newline are kept. With keep_colors the colour sequences above (C_RESET ..
 * C_CYAN, exactly) pass through, for text that carries our own colours.
 */
void output_visible(const char *s, size_t len, bool keep_colors, struct buf *out);

/* Append the last n lines of text to out, each prefixed with prefix. */
void output_tail_lines(const char *text, size_t len, int n, const char *prefix, struct buf *out);

#endif
