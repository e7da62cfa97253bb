/*
 * sluice.c: the guest side of the Sluice plugin ABI, version 1 (sdk/ABI.md), for sluice.h.
 *
 * It exports sluice_abi_version, sluice_alloc and sluice_transform, imports what it uses from the host module
 * "sluice", and calls the plugin's sluice_handle once per message. _initialize comes from wasi-libc's reactor
 * start file (-mexec-model=reactor). The linker drops the functions a plugin does not use, and with them
 * their host imports.
 *
 * State lives in one static struct: the host never calls an instance concurrently or re-entrantly.
 */
#include "sluice.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Host imports (module "sluice"). Lengths are i32; size_t is 32 bits on wasm32. --- */

#ifdef __wasm__
#define SLUICE_IMPORT(name) __attribute__((import_module("sluice"), import_name(name)))
#define SLUICE_EXPORT(name) __attribute__((export_name(name), visibility("default")))
#else /* a native build, for unit tests that define the sluice__host_* functions themselves (README.md) */
#define SLUICE_IMPORT(name)
#define SLUICE_EXPORT(name)
#endif

SLUICE_IMPORT("set_output") void sluice__host_set_output(const void *ptr, size_t len);
SLUICE_IMPORT("set_error") void sluice__host_set_error(const void *ptr, size_t len);
SLUICE_IMPORT("set_content_type") void sluice__host_set_content_type(const void *ptr, size_t len);
SLUICE_IMPORT("set_header")
void sluice__host_set_header(const void *name, size_t name_len, const void *value, size_t value_len);
SLUICE_IMPORT("meta") int32_t sluice__host_meta(const void *key, size_t key_len, void *buf, size_t buf_cap);
SLUICE_IMPORT("log") void sluice__host_log(int32_t level, const void *ptr, size_t len);
SLUICE_IMPORT("now") int64_t sluice__host_now(void);

enum {
	MIN_INPUT_CAP = 4 << 10, /* first input buffer; grows to the largest message seen */
	MIN_META_CAP = 64,       /* first guess at a metadata value's length */
	META_TRIES = 3,          /* meta calls per lookup before giving up on a value that keeps growing */
};

/* The metadata keys sluice.h has accessors for; their values are looked up once per message. */
enum { KEY_ROUTE, KEY_CORRELATION_ID, KEY_CONTENT_TYPE, KEY_PLUGIN, KEY_RECEIVED_AT, NKEYS };
static const char *const key_names[NKEYS] = {"route", "correlation_id", "content_type", "plugin", "received_at"};

/* A metadata value copied for the current message; freed when the handler returns. */
struct meta_value {
	struct meta_value *next;
	char data[];
};

static struct {
	uint8_t *in;          /* input buffer handed out by sluice_alloc; in_cap bytes plus one for a NUL */
	size_t in_cap;
	sluice_message msg;   /* reused for every message */
	struct meta_value *values; /* metadata copied during the current message */
	char *key;            /* "header:<Name>" scratch, reused */
	size_t key_cap;
	sluice_str cached[NKEYS]; /* lookups of key_names during the current message */
	bool have[NKEYS];
	bool found[NKEYS];
} g;

static const sluice_str empty = {"", 0};

/* --- Exports. --- */

SLUICE_EXPORT("sluice_abi_version") int32_t sluice_abi_version(void) { return SLUICE_ABI_VERSION; }

/* sluice_alloc returns room for the next input of size bytes, reusing the buffer when it is big enough. It
 * never returns NULL for size 0, and returns NULL when size is negative or memory is exhausted (the host then
 * fails the message with memory_limit). */
SLUICE_EXPORT("sluice_alloc") uint8_t *sluice_alloc(int32_t size) {
	if (size < 0) {
		return NULL;
	}
	size_t n = (size_t)size;
	if (g.in != NULL && n <= g.in_cap) {
		return g.in;
	}
	size_t cap = 2 * g.in_cap;
	if (cap < n) {
		cap = n;
	}
	if (cap < MIN_INPUT_CAP) {
		cap = MIN_INPUT_CAP;
	}
	free(g.in);
	g.in = malloc(cap + 1);
	if (g.in == NULL && cap > n) { /* doubling was too greedy for the memory cap: try the exact size */
		cap = n;
		g.in = malloc(cap + 1);
	}
	g.in_cap = g.in == NULL ? 0 : cap;
	return g.in;
}

/* sluice_transform runs sluice_handle on the len bytes at ptr, which must lie inside the buffer last returned
 * by sluice_alloc, and returns its code (0, 1, or 2 for anything else). */
SLUICE_EXPORT("sluice_transform") int32_t sluice_transform(uint8_t *ptr, int32_t len) {
	if (g.in == NULL || len < 0 || ptr < g.in || ptr > g.in + g.in_cap ||
	    (size_t)len > g.in_cap - (size_t)(ptr - g.in)) {
		sluice_log(SLUICE_ERROR, "sluice: sluice_transform called with bytes outside the input buffer");
		return SLUICE_FAILED;
	}
	ptr[len] = 0; /* the spare byte after the buffer, or a byte past the input inside it */
	g.msg.body = (sluice_bytes){ptr, (size_t)len};
	int code = sluice_handle(&g.msg);
	g.msg.body = (sluice_bytes){NULL, 0};
	while (g.values != NULL) {
		struct meta_value *next = g.values->next;
		free(g.values);
		g.values = next;
	}
	memset(g.have, 0, sizeof g.have);
	if (code != SLUICE_OK && code != SLUICE_REJECTED) {
		code = SLUICE_FAILED;
	}
	return code;
}

/* --- Metadata. --- */

/* lookup asks the host for the value under the key of key_len bytes and copies it into a meta_value that
 * lives until the handler returns. */
static bool lookup(const char *key, size_t key_len, sluice_str *out) {
	*out = empty;
	size_t cap = MIN_META_CAP;
	for (int try = 0; try < META_TRIES; try++) {
		struct meta_value *v = malloc(sizeof *v + cap + 1);
		if (v == NULL) {
			return false;
		}
		int32_t n = sluice__host_meta(key, key_len, v->data, cap);
		if (n < 0) {
			free(v);
			return false;
		}
		if ((size_t)n <= cap) {
			v->data[n] = 0;
			v->next = g.values;
			g.values = v;
			*out = (sluice_str){v->data, (size_t)n};
			return true;
		}
		free(v);
		cap = (size_t)n; /* too small: ask again with room for the length the host reported */
	}
	return false;
}

/* known returns the value of key_names[k], looking it up at most once per message. */
static bool known(int k, sluice_str *out) {
	if (!g.have[k]) {
		g.found[k] = lookup(key_names[k], strlen(key_names[k]), &g.cached[k]);
		g.have[k] = true;
	}
	*out = g.cached[k];
	return g.found[k];
}

bool sluice_meta(sluice_message *m, const char *key, sluice_str *value) {
	(void)m;
	for (int k = 0; k < NKEYS; k++) {
		if (strcmp(key, key_names[k]) == 0) {
			return known(k, value);
		}
	}
	return lookup(key, strlen(key), value);
}

static sluice_str known_or_empty(int k) {
	sluice_str s;
	known(k, &s);
	return s;
}

sluice_str sluice_route(sluice_message *m) {
	(void)m;
	return known_or_empty(KEY_ROUTE);
}

sluice_str sluice_correlation_id(sluice_message *m) {
	(void)m;
	return known_or_empty(KEY_CORRELATION_ID);
}

sluice_str sluice_content_type(sluice_message *m) {
	(void)m;
	return known_or_empty(KEY_CONTENT_TYPE);
}

sluice_str sluice_plugin(sluice_message *m) {
	(void)m;
	return known_or_empty(KEY_PLUGIN);
}

sluice_str sluice_header(sluice_message *m, const char *name) {
	(void)m;
	static const char prefix[] = "header:";
	size_t name_len = strlen(name), n = sizeof prefix - 1 + name_len;
	if (n > g.key_cap) {
		char *key = realloc(g.key, n);
		if (key == NULL) {
			return empty;
		}
		g.key = key;
		g.key_cap = n;
	}
	memcpy(g.key, prefix, sizeof prefix - 1);
	memcpy(g.key + sizeof prefix - 1, name, name_len);
	sluice_str v;
	lookup(g.key, n, &v);
	return v;
}

/* number parses n decimal digits at s. */
static bool number(const char *s, int n, int *v) {
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* days_from_civil returns the days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d) {
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* rfc3339 parses "2026-01-02T03:04:05.123456789Z" (any fraction, Z or a ±hh:mm offset) into Unix nanoseconds. */
static bool rfc3339(const char *s, size_t len, int64_t *ns) {
	int year, mon, day, hour, min, sec;
	if (len < 20 || !number(s, 4, &year) || s[4] != '-' || !number(s + 5, 2, &mon) || s[7] != '-' ||
	    !number(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') || !number(s + 11, 2, &hour) ||
	    s[13] != ':' || !number(s + 14, 2, &min) || s[16] != ':' || !number(s + 17, 2, &sec)) {
		return false;
	}
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
	if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || (mon == 2 && day == 29 && !leap) || hour > 23 ||
	    min > 59 || sec > 59) {
		return false;
	}
	size_t i = 19;
	int64_t frac = 0;
	if (s[i] == '.') {
		int digits = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
			if (digits < 9) {
				frac = frac * 10 + (s[i] - '0');
			}
		}
		if (digits == 0) {
			return false;
		}
		for (; digits < 9; digits++) {
			frac *= 10;
		}
	}
	int64_t offset = 0;
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
		offset = 0;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh, om;
		if (!number(s + i + 1, 2, &oh) || !number(s + i + 4, 2, &om) || oh > 23 || om > 59) {
			return false;
		}
		offset = (oh * 60 + om) * 60;
		if (s[i] == '-') {
			offset = -offset;
		}
	} else {
		return false;
	}
	int64_t secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
	return !__builtin_mul_overflow(secs, 1000000000, ns) && !__builtin_add_overflow(*ns, frac, ns);
}

int64_t sluice_received_at(sluice_message *m) {
	(void)m;
	sluice_str v;
	int64_t ns;
	if (!known(KEY_RECEIVED_AT, &v) || !rfc3339(v.ptr, v.len, &ns)) {
		return 0;
	}
	return ns;
}

/* --- Output. --- */

void sluice_set_output(sluice_message *m, const void *data, size_t len) {
	(void)m;
	sluice__host_set_output(data, len);
}

void sluice_set_content_type(sluice_message *m, const char *content_type) {
	(void)m;
	sluice__host_set_content_type(content_type, strlen(content_type));
}

void sluice_set_header(sluice_message *m, const char *name, const char *value) {
	(void)m;
	sluice__host_set_header(name, strlen(name), value, strlen(value));
}

int sluice_reject_n(sluice_message *m, const void *msg, size_t len) {
	(void)m;
	sluice__host_set_error(msg, len);
	return SLUICE_REJECTED;
}

int sluice_reject(sluice_message *m, const char *msg) { return sluice_reject_n(m, msg, strlen(msg)); }

int sluice_fail(sluice_message *m, const char *msg) {
	(void)m;
	sluice__host_set_error(msg, strlen(msg));
	return SLUICE_FAILED;
}

/* --- Host services. --- */

int64_t sluice_now(void) { return sluice__host_now(); }

void sluice_log(sluice_level level, const char *msg) { sluice__host_log(level, msg, strlen(msg)); }

void sluice_logf(sluice_level level, const char *format, ...) {
	char small[256];
	va_list ap;
	va_start(ap, format);
	int n = vsnprintf(small, sizeof small, format, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	if ((size_t)n < sizeof small) {
		sluice__host_log(level, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (big == NULL) { /* log what fits */
		sluice__host_log(level, small, sizeof small - 1);
		return;
	}
	va_start(ap, format);
	vsnprintf(big, (size_t)n + 1, format, ap);
	va_end(ap);
	sluice__host_log(level, big, (size_t)n);
	free(big);
}
