/*
 * sluice.h: the C SDK for Sluice transformation plugins (plugin ABI version 1, sdk/ABI.md).
 *
 * A plugin defines one function, sluice_handle, and links sluice.c. The SDK implements the ABI's exports
 * (sluice_abi_version, sluice_alloc, sluice_transform), owns the input buffer and calls the host; plugin code
 * sees the input as a pointer and a length and never deals with the ABI's allocation protocol.
 *
 *     #include "sluice.h"
 *
 *     int sluice_handle(sluice_message *m) {
 *         if (m->body.len == 0)
 *             return sluice_reject(m, "body is empty");
 *         sluice_set_content_type(m, "text/plain; charset=utf-8");
 *         sluice_set_output(m, m->body.ptr, m->body.len);
 *         return SLUICE_OK;
 *     }
 *
 * Build for clang's wasm32-wasi target as a WASI reactor (-mexec-model=reactor); see README.md.
 *
 * Lifetime: the message, its body and every sluice_str the SDK returns for it are valid only until
 * sluice_handle returns; copy what you keep. Call the sluice_* functions that take a message only while its
 * handler runs. Concurrency: the host never calls an instance concurrently or re-entrantly, so globals need
 * no locks; but it may discard an instance at any time, so do not rely on them persisting.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the plugin ABI the SDK implements, exported as sluice_abi_version. */
#define SLUICE_ABI_VERSION 1

/* What sluice_handle returns: the ABI's return codes of sluice_transform. */
enum {
	SLUICE_OK = 0,       /* success: the output is what was last passed to sluice_set_output (empty if nothing) */
	SLUICE_REJECTED = 1, /* bad input: the message fails with plugin_rejected and is not retried */
	SLUICE_FAILED = 2,   /* the plugin is broken for this message: plugin_failed; the host discards the instance */
};

/* Severity of a log record, numbered as in the ABI. */
typedef enum sluice_level {
	SLUICE_DEBUG = 0,
	SLUICE_INFO = 1,
	SLUICE_WARN = 2,
	SLUICE_ERROR = 3,
} sluice_level;

/* Writable bytes owned by the SDK. */
typedef struct sluice_bytes {
	uint8_t *ptr;
	size_t len;
} sluice_bytes;

/* Read-only text owned by the SDK: len bytes at ptr, followed by a NUL, so ptr is also a C string. */
typedef struct sluice_str {
	const char *ptr;
	size_t len;
} sluice_str;

/* One message being transformed. Owned by the SDK and reused: valid only until sluice_handle returns. */
typedef struct sluice_message {
	/* The input: the incoming body, or the previous plugin's output in a chain. The handler may modify it in
	 * place and pass (part of) it to sluice_set_output. body.ptr[body.len] is 0, so a text body may be used
	 * as a C string (though the body may contain NUL bytes of its own). body.ptr is never NULL. */
	sluice_bytes body;
} sluice_message;

/*
 * sluice_handle transforms one message; the plugin must define it. It returns SLUICE_OK, or the result of
 * sluice_reject or sluice_fail (SLUICE_REJECTED, SLUICE_FAILED). Any value other than 0 or 1 is a failure.
 */
int sluice_handle(sluice_message *m);

/* --- Input: metadata. Values are valid until the handler returns; absent values are "" (length 0). --- */

/* sluice_meta looks up any metadata key of ABI.md ("route", "header:X-Tenant", ...). It returns false, and
 * sets *value to "", if the host does not know the key, the message has no such value, or memory ran out. */
bool sluice_meta(sluice_message *m, const char *key, sluice_str *value);

sluice_str sluice_route(sluice_message *m);          /* name of the route the message arrived on */
sluice_str sluice_correlation_id(sluice_message *m); /* the message's correlation ID */
sluice_str sluice_content_type(sluice_message *m);   /* of the incoming message, not of an earlier plugin's output */
sluice_str sluice_plugin(sluice_message *m);         /* the name this plugin is configured under */

/* sluice_header returns the first value of the incoming request header name, matched case-insensitively. */
sluice_str sluice_header(sluice_message *m, const char *name);

/* sluice_received_at returns when the host accepted the message, in nanoseconds since the Unix epoch, or 0
 * if the host did not say. */
int64_t sluice_received_at(sluice_message *m);

/* --- Output. The host copies every argument during the call: free or reuse it right after. --- */

/* sluice_set_output sets the output body, replacing an earlier one. data may point into m->body. */
void sluice_set_output(sluice_message *m, const void *data, size_t len);

/* sluice_set_content_type sets the content type of the output, sent to the destination. */
void sluice_set_content_type(sluice_message *m, const char *content_type);

/* sluice_set_header sets a header on the destination request, replacing an earlier value of the same name. */
void sluice_set_header(sluice_message *m, const char *name, const char *value);

/* sluice_reject sets msg as the rejection reason and returns SLUICE_REJECTED: `return sluice_reject(m, ...)`.
 * The reason reaches the sender: keep it short, specific and safe to show. */
int sluice_reject(sluice_message *m, const char *msg);

/* sluice_reject_n is sluice_reject for a reason of len bytes, which may contain NUL bytes. */
int sluice_reject_n(sluice_message *m, const void *msg, size_t len);

/* sluice_fail reports a plugin failure (out of memory, a broken invariant) with msg as its description, and
 * returns SLUICE_FAILED: `return sluice_fail(m, "out of memory")`. The host then discards the instance. */
int sluice_fail(sluice_message *m, const char *msg);

/* --- Host services; callable at any time. --- */

/* sluice_now returns the host's wall clock in nanoseconds since the Unix epoch. */
int64_t sluice_now(void);

/* sluice_log writes msg to the host's log at the given level. */
void sluice_log(sluice_level level, const char *msg);

/* sluice_logf formats like printf and writes the result to the host's log. Using it links in vsnprintf. */
void sluice_logf(sluice_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
