/* curl-load.c - libcurl, opened on first use (see curl-load.h). */
#include "curl-load.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>

#include "buf.h"
#include "util.h"

struct curl_api curl_api;

/* The names libcurl's ABI 4 goes by: Debian's OpenSSL, GnuTLS and NSS builds. */
static const char *const sonames[] = { "libcurl.so.4", "libcurl-gnutls.so.4", "libcurl-nss.so.4" };

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *load_error;   /* NULL once loaded; kept for the process's life */

/* Each entry: where the pointer goes, and the symbol. */
#define SYM(field, name) { (void **)&curl_api.field, name }

static void
load(void)
{
	static const struct { void **slot; const char *name; } syms[] = {
		SYM(global_init, "curl_global_init"),
		SYM(easy_init, "curl_easy_init"),
		SYM(easy_setopt, "curl_easy_setopt"),
		SYM(easy_getinfo, "curl_easy_getinfo"),
		SYM(easy_cleanup, "curl_easy_cleanup"),
		SYM(easy_strerror, "curl_easy_strerror"),
		SYM(multi_init, "curl_multi_init"),
		SYM(multi_add_handle, "curl_multi_add_handle"),
		SYM(multi_remove_handle, "curl_multi_remove_handle"),
		SYM(multi_perform, "curl_multi_perform"),
		SYM(multi_fdset, "curl_multi_fdset"),
		SYM(multi_timeout, "curl_multi_timeout"),
		SYM(multi_info_read, "curl_multi_info_read"),
		SYM(multi_cleanup, "curl_multi_cleanup"),
		SYM(share_init, "curl_share_init"),
		SYM(share_setopt, "curl_share_setopt"),
		SYM(share_cleanup, "curl_share_cleanup"),
		SYM(slist_append, "curl_slist_append"),
		SYM(slist_free_all, "curl_slist_free_all"),
		SYM(free, "curl_free"),
		SYM(version_info, "curl_version_info"),
		SYM(url, "curl_url"),
		SYM(url_set, "curl_url_set"),
		SYM(url_get, "curl_url_get"),
		SYM(url_cleanup, "curl_url_cleanup"),
	};
	const char *named = getenv("MIGRATE_LIBCURL");
	const char *const *names = sonames;
	size_t n_names = ARRAY_LEN(sonames);
	const char *why = NULL;
	void *lib = NULL;
	CURLcode rc;

	if (named && *named) {
		names = &named;
		n_names = 1;
	}
	for (size_t i = 0; i < n_names && lib == NULL; i++) {
		lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
		if (lib == NULL && why == NULL)
			why = dlerror();
	}
	if (lib == NULL) {
		load_error = xasprintf("HTTP needs libcurl, which cannot be loaded: %s", why ? why : names[0]);
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(syms); i++) {
		*syms[i].slot = dlsym(lib, syms[i].name);
		if (*syms[i].slot == NULL) {
			load_error = xasprintf("HTTP needs a newer libcurl: it has no %s", syms[i].name);
			return;
		}
	}
	/* the library stays loaded for the process's life (no dlclose) */
	rc = curl_api.global_init(CURL_GLOBAL_ALL);
	if (rc != CURLE_OK)
		load_error = xasprintf("cannot set up libcurl: %s", curl_api.easy_strerror(rc));
}

int
curl_load(char **err)
{
	pthread_once(&once, load);
	if (load_error) {
		*err = xstrdup(load_error);
		return -1;
	}
	return 0;
}
