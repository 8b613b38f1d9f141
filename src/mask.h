/*
 * mask.h - taking secret values out of text, in every common form.
 *
 * A struct mask knows a set of secret values. It finds each of them in
 * text written literally or encoded the usual ways, mixed freely byte by
 * byte: percent-encoding (either hex case, '+' for space), JSON string
 * escapes (\" \\ \/ \n ..., \u00XX, \uXXXX and surrogate pairs for
 * non-ASCII), shell quoting as |quote writes it ('\'') and backslash
 * escapes, CR LF for LF; and base64 (standard and URL-safe alphabets, line
 * breaks allowed between characters) at each of the three byte alignments,
 * of which the part that does not depend on the neighbouring bytes is
 * masked. Every occurrence, leftmost first and longest at one place,
 * becomes MASK_TEXT.
 *
 * Whole texts are masked with mask_text(). An output stream that arrives
 * in chunks goes through a struct mask_stream, which passes text on as
 * soon as it cannot be the start of a secret and holds back only a tail
 * that still could be (less than the longest form of any secret), so a
 * secret split across chunks is still found; mask_stream_finish() flushes
 * the rest at the end of the stream.
 */
#ifndef MIGRATE_MASK_H
#define MIGRATE_MASK_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define MASK_TEXT "***"
/* Shorter secrets are refused: masking them would mask ordinary text. */
#define MASK_MIN_SECRET 4

struct mask;

/* An empty mask; free with mask_free (NULL is fine). */
struct mask *mask_new(void);
void mask_free(struct mask *m);
/* Add a secret value (len bytes, copied; len >= MASK_MIN_SECRET, else ignored). */
void mask_add(struct mask *m, const char *value, size_t len);
/* Does m hold any secret? */
bool mask_empty(const struct mask *m);
/* Mask b in place (m may be NULL: nothing to mask). */
void mask_text(const struct mask *m, struct buf *b);

struct mask_stream {
	const struct mask *m;
	struct buf held;   /* received, not yet passed on */
};

void mask_stream_init(struct mask_stream *s, const struct mask *m);
/* Take len bytes of the stream; append what is final, masked, to out. */
void mask_stream_feed(struct mask_stream *s, const char *data, size_t len, struct buf *out);
/* The stream ended: append the rest, masked, to out. */
void mask_stream_finish(struct mask_stream *s, struct buf *out);
/* Release (wiping what was held back). */
void mask_stream_release(struct mask_stream *s);

#endif
