/*
 * sha256.h - SHA-256 digests (libcrypto EVP) as lowercase hex.
 *
 * Used for the runbook fingerprint recorded at run start (resume refuses a
 * changed runbook, SPEC §4) and for the journal's per-record checksums.
 * Output goes to a caller-provided array of SHA256_HEX_SIZE bytes: 64 hex
 * digits and a NUL.
 */
#ifndef MIGRATE_SHA256_H
#define MIGRATE_SHA256_H

#include <stddef.h>

#define SHA256_HEX_SIZE 65

/*
 * Digest len bytes at data into out. Returns 0, or -1 if libcrypto fails
 * (out is then the empty string).
 */
int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_SIZE]);

/*
 * Digest the contents of the file at path (symbolic links are followed).
 * Returns 0, or -1 and sets *err (malloc'ed, caller frees) when the file
 * cannot be read.
 */
int sha256_file(const char *path, char out[SHA256_HEX_SIZE], char **err);

#endif
