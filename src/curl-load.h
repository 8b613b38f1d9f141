/*
 * curl-load.h - libcurl, opened on first use.
 *
 * migrate is not linked with libcurl: loading it and the two dozen
 * libraries it pulls in (TLS, Kerberos, LDAP, IDN...) cost about 7 ms at
 * every start, more than `migrate validate` of a small runbook takes in
 * all. The few modules that speak HTTP include this header instead of
 * <curl/curl.h> and call curl_load() before their first curl call; the
 * macros below then route the calls they make, by their usual names,
 * through the table curl_load() filled with dlsym(). $MIGRATE_LIBCURL,
 * when set, names the library to open instead (a file name or a path).
 */
#ifndef MIGRATE_CURL_LOAD_H
#define MIGRATE_CURL_LOAD_H

/* curl.h's type-checking macros would name the real functions */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

/*
 * Open libcurl and run curl_global_init, once per process (thread-safe).
 * Returns 0, or -1 with *err (malloc'ed) saying why: "HTTP needs libcurl,
 * which cannot be loaded: ...". Every later call gives the same answer.
 */
int curl_load(char **err);

struct curl_api {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode rc);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMcode (*multi_fdset)(CURLM *m, fd_set *r, fd_set *w, fd_set *x, int *maxfd);
	CURLMcode (*multi_timeout)(CURLM *m, long *ms);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *s, CURLSHoption opt, ...);
	CURLSHcode (*share_cleanup)(CURLSH *s);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	void (*free)(void *p);
	curl_version_info_data *(*version_info)(CURLversion v);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart part, const char *content, unsigned int flags);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart part, char **content, unsigned int flags);
	void (*url_cleanup)(CURLU *u);
};

/* Filled by a successful curl_load(); not to be used before one. */
extern struct curl_api curl_api;

#define curl_easy_init (*curl_api.easy_init)
/* curl.h defines these three as macros of themselves */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#define curl_easy_setopt (*curl_api.easy_setopt)
#define curl_easy_getinfo (*curl_api.easy_getinfo)
#define curl_easy_cleanup (*curl_api.easy_cleanup)
#define curl_easy_strerror (*curl_api.easy_strerror)
#define curl_multi_init (*curl_api.multi_init)
#define curl_multi_add_handle (*curl_api.multi_add_handle)
#define curl_multi_remove_handle (*curl_api.multi_remove_handle)
#define curl_multi_perform (*curl_api.multi_perform)
#define curl_multi_fdset (*curl_api.multi_fdset)
#define curl_multi_timeout (*curl_api.multi_timeout)
#define curl_multi_info_read (*curl_api.multi_info_read)
#define curl_multi_cleanup (*curl_api.multi_cleanup)
#define curl_share_init (*curl_api.share_init)
#define curl_share_setopt (*curl_api.share_setopt)
#define curl_share_cleanup (*curl_api.share_cleanup)
#define curl_slist_append (*curl_api.slist_append)
#define curl_slist_free_all (*curl_api.slist_free_all)
#define curl_free (*curl_api.free)
#define curl_version_info (*curl_api.version_info)
#define curl_url (*curl_api.url)
#define curl_url_set (*curl_api.url_set)
#define curl_url_get (*curl_api.url_get)
#define curl_url_cleanup (*curl_api.url_cleanup)

#endif
