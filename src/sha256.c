#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

static void
to_hex(const unsigned char *md, unsigned int n, char out[SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	unsigned int i;

	for (i = 0; i < n && i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 0xf];
	}
	out[2 * i] = '\0';
}

int
sha256_hex(const void *data, size_t len, char out[SHA256_HEX_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
		return -1;
	to_hex(md, n, out);
	return 0;
}

int
sha256_file(const char *path, char out[SHA256_HEX_SIZE], char **err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char chunk[65536];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = NULL;
	int fd, rc = -1;
	ssize_t got;

	out[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		*err = xasprintf("cannot hash '%s': libcrypto failed", path);
		goto cleanup;
	}
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*err = xasprintf("cannot read '%s': %s", path, strerror(errno));
			goto cleanup;
		}
		if (got == 0)
			break;
		if (!EVP_DigestUpdate(ctx, chunk, (size_t)got)) {
			*err = xasprintf("cannot hash '%s': libcrypto failed", path);
			goto cleanup;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, md, &n)) {
		*err = xasprintf("cannot hash '%s': libcrypto failed", path);
		goto cleanup;
	}
	to_hex(md, n, out);
	rc = 0;
cleanup:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}
