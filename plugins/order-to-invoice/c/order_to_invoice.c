/*
 * order-to-invoice in C: the reference plugin of ../SPEC.md, with the C SDK (sdk/c). Built by build.sh.
 *
 * One pass over the input with a strict RFC 8259 reader that keeps only the fields the invoice needs; every
 * other value is validated and skipped. Strings are decoded in place (a decoded string is never longer than
 * its JSON text), and always carried with their length, so NUL characters survive. Duplicate keys: the last
 * one wins, because each later value simply overwrites the earlier one. Raw bytes >= 0x80 are copied as they
 * are (SPEC.md), not checked as UTF-8, as in the Go build.
 *
 * The item list and the output buffer are reused from message to message; nothing else is allocated.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice.h"

enum { MAX_DEPTH = 64 }; /* objects and arrays nested deeper than this (the document itself is 1) are invalid */

/* What a value of interest turned out to be. */
enum kind {
	K_ABSENT, /* not present (yet) */
	K_STRING, /* s, n: the decoded bytes */
	K_INT,    /* i: an integer >= 0 that fits in int64 (no fraction, no exponent; -0 is 0) */
	K_OBJECT,
	K_ARRAY,
	K_OTHER, /* anything else: null, true, false, a negative, fractional or too large number */
};

typedef struct {
	enum kind kind;
	const uint8_t *s;
	size_t n;
	int64_t i;
} field;

typedef struct {
	bool object; /* the element is an object; the fields below are its members */
	field sku, qty, price;
	int64_t amount;
} item;

typedef struct {
	field id, currency, customer, first_name, last_name, email, items;
} order;

/* Which object is being read, so that its members land in the right fields. */
enum object_kind { OBJ_SKIP, OBJ_ROOT, OBJ_CUSTOMER, OBJ_ITEM };

typedef struct {
	uint8_t *b; /* the input, decoded in place */
	size_t len, i;
	order *o;
	bool oom; /* the item list could not grow */
} parser;

/* The items of the last "items" array; reused. */
static item *items;
static size_t nitems, items_cap;

static bool value(parser *p, int depth, field *f);
static bool object(parser *p, int depth, enum object_kind which, size_t idx);

static void space(parser *p) {
	while (p->i < p->len) {
		uint8_t c = p->b[p->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			return;
		}
		p->i++;
	}
}

static bool at(parser *p, uint8_t c) { return p->i < p->len && p->b[p->i] == c; }

static bool literal(parser *p, const char *lit, size_t n) {
	if (p->len - p->i < n || memcmp(p->b + p->i, lit, n) != 0) {
		return false;
	}
	p->i += n;
	return true;
}

static bool hex4(parser *p, size_t *i, uint32_t *r) {
	if (p->len - *i < 4) {
		return false;
	}
	*r = 0;
	for (int k = 0; k < 4; k++) {
		uint8_t c = p->b[(*i)++];
		uint32_t d;
		if (c >= '0' && c <= '9') {
			d = c - '0';
		} else if (c >= 'a' && c <= 'f') {
			d = c - 'a' + 10;
		} else if (c >= 'A' && c <= 'F') {
			d = c - 'A' + 10;
		} else {
			return false;
		}
		*r = *r << 4 | d;
	}
	return true;
}

/* utf8 writes code point r (not a surrogate, at most 0x10FFFF) at w and returns its length. */
static size_t utf8(uint8_t *w, uint32_t r) {
	if (r < 0x80) {
		w[0] = (uint8_t)r;
		return 1;
	}
	if (r < 0x800) {
		w[0] = (uint8_t)(0xC0 | r >> 6);
		w[1] = (uint8_t)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		w[0] = (uint8_t)(0xE0 | r >> 12);
		w[1] = (uint8_t)(0x80 | (r >> 6 & 0x3F));
		w[2] = (uint8_t)(0x80 | (r & 0x3F));
		return 3;
	}
	w[0] = (uint8_t)(0xF0 | r >> 18);
	w[1] = (uint8_t)(0x80 | (r >> 12 & 0x3F));
	w[2] = (uint8_t)(0x80 | (r >> 6 & 0x3F));
	w[3] = (uint8_t)(0x80 | (r & 0x3F));
	return 4;
}

/* string decodes the string literal at p->i (its opening quote) in place: the decoded bytes are written
 * over the literal, never ahead of what has been read. */
static bool string(parser *p, const uint8_t **s, size_t *n) {
	uint8_t *b = p->b;
	size_t i = p->i + 1, start = i;
	while (i < p->len && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20) {
		i++;
	}
	size_t w = i;
	while (i < p->len) {
		uint8_t c = b[i++];
		if (c == '"') {
			*s = b + start;
			*n = w - start;
			p->i = i;
			return true;
		}
		if (c < 0x20) {
			return false;
		}
		if (c != '\\') {
			b[w++] = c;
			continue;
		}
		if (i >= p->len) {
			return false;
		}
		switch (b[i++]) {
		case '"': b[w++] = '"'; break;
		case '\\': b[w++] = '\\'; break;
		case '/': b[w++] = '/'; break;
		case 'b': b[w++] = '\b'; break;
		case 'f': b[w++] = '\f'; break;
		case 'n': b[w++] = '\n'; break;
		case 'r': b[w++] = '\r'; break;
		case 't': b[w++] = '\t'; break;
		case 'u': {
			uint32_t r, lo;
			if (!hex4(p, &i, &r)) {
				return false;
			}
			if (r >= 0xD800 && r < 0xDC00) { /* a high surrogate: a low one must follow */
				if (p->len - i < 2 || b[i] != '\\' || b[i + 1] != 'u') {
					return false;
				}
				i += 2;
				if (!hex4(p, &i, &lo) || lo < 0xDC00 || lo >= 0xE000) {
					return false;
				}
				r = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
			} else if (r >= 0xDC00 && r < 0xE000) { /* a lone low surrogate */
				return false;
			}
			w += utf8(b + w, r);
			break;
		}
		default:
			return false;
		}
	}
	return false; /* unterminated */
}

static bool digit(parser *p) { return p->i < p->len && p->b[p->i] >= '0' && p->b[p->i] <= '9'; }

/* number reads a number and classifies it: K_INT for an integer from 0 to INT64_MAX, K_OTHER otherwise. */
static bool number(parser *p, field *f) {
	bool neg = false, big = false, integer = true;
	uint64_t v = 0;
	if (at(p, '-')) {
		neg = true;
		p->i++;
	}
	if (at(p, '0')) {
		p->i++;
	} else if (digit(p)) {
		for (; digit(p); p->i++) {
			uint64_t d = p->b[p->i] - '0';
			if (big || v > (INT64_MAX - d) / 10) {
				big = true;
			} else {
				v = v * 10 + d;
			}
		}
	} else {
		return false;
	}
	if (at(p, '.')) {
		p->i++;
		integer = false;
		if (!digit(p)) {
			return false;
		}
		while (digit(p)) {
			p->i++;
		}
	}
	if (at(p, 'e') || at(p, 'E')) {
		p->i++;
		integer = false;
		if (at(p, '+') || at(p, '-')) {
			p->i++;
		}
		if (!digit(p)) {
			return false;
		}
		while (digit(p)) {
			p->i++;
		}
	}
	if (integer && !big && (!neg || v == 0)) {
		f->kind = K_INT;
		f->i = (int64_t)v;
	} else {
		f->kind = K_OTHER;
	}
	return true;
}

/* array reads an array; with collect, its elements become the items (the top-level "items" array). */
static bool array(parser *p, int depth, bool collect) {
	if (++depth > MAX_DEPTH) {
		return false;
	}
	p->i++; /* [ */
	space(p);
	if (at(p, ']')) {
		p->i++;
		return true;
	}
	for (;;) {
		if (!collect) {
			if (!value(p, depth, NULL)) {
				return false;
			}
		} else {
			if (nitems == items_cap) {
				size_t cap = items_cap ? 2 * items_cap : 16;
				item *grown = realloc(items, cap * sizeof *items);
				if (grown == NULL) {
					p->oom = true;
					return false;
				}
				items = grown;
				items_cap = cap;
			}
			size_t idx = nitems++;
			items[idx] = (item){.object = at(p, '{')};
			if (!(items[idx].object ? object(p, depth, OBJ_ITEM, idx) : value(p, depth, NULL))) {
				return false;
			}
		}
		space(p);
		if (p->i >= p->len) {
			return false;
		}
		uint8_t c = p->b[p->i++];
		if (c == ']') {
			return true;
		}
		if (c != ',') {
			return false;
		}
		space(p);
	}
}

/* value reads any value at p->i and records what it is in f (if f is not NULL). */
static bool value(parser *p, int depth, field *f) {
	field ignored;
	if (f == NULL) {
		f = &ignored;
	}
	if (p->i >= p->len) {
		return false;
	}
	switch (p->b[p->i]) {
	case '{':
		f->kind = K_OBJECT;
		return object(p, depth, OBJ_SKIP, 0);
	case '[':
		f->kind = K_ARRAY;
		return array(p, depth, false);
	case '"':
		f->kind = K_STRING;
		return string(p, &f->s, &f->n);
	case 't':
		f->kind = K_OTHER;
		return literal(p, "true", 4);
	case 'f':
		f->kind = K_OTHER;
		return literal(p, "false", 5);
	case 'n':
		f->kind = K_OTHER;
		return literal(p, "null", 4);
	default:
		return number(p, f);
	}
}

static bool is(const uint8_t *k, size_t n, const char *name) { return n == strlen(name) && memcmp(k, name, n) == 0; }

/* member reads the value of member k of an object of the given kind (idx: the item being read). */
static bool member(parser *p, int depth, enum object_kind which, size_t idx, const uint8_t *k, size_t n) {
	order *o = p->o;
	field *f = NULL;
	switch (which) {
	case OBJ_ROOT:
		if (is(k, n, "id")) {
			f = &o->id;
		} else if (is(k, n, "currency")) {
			f = &o->currency;
		} else if (is(k, n, "customer")) {
			f = &o->customer;
			if (at(p, '{')) { /* a later customer replaces an earlier one entirely */
				o->customer.kind = K_OBJECT;
				o->first_name.kind = o->last_name.kind = o->email.kind = K_ABSENT;
				return object(p, depth, OBJ_CUSTOMER, 0);
			}
		} else if (is(k, n, "items")) {
			f = &o->items;
			if (at(p, '[')) {
				o->items.kind = K_ARRAY;
				nitems = 0;
				return array(p, depth, true);
			}
		}
		break;
	case OBJ_CUSTOMER:
		if (is(k, n, "first_name")) {
			f = &o->first_name;
		} else if (is(k, n, "last_name")) {
			f = &o->last_name;
		} else if (is(k, n, "email")) {
			f = &o->email;
		}
		break;
	case OBJ_ITEM:
		if (is(k, n, "sku")) {
			f = &items[idx].sku;
		} else if (is(k, n, "qty")) {
			f = &items[idx].qty;
		} else if (is(k, n, "unit_price_cents")) {
			f = &items[idx].price;
		}
		break;
	case OBJ_SKIP:
		break;
	}
	return value(p, depth, f);
}

/* object reads an object at p->i; its members go where which says. */
static bool object(parser *p, int depth, enum object_kind which, size_t idx) {
	if (++depth > MAX_DEPTH) {
		return false;
	}
	p->i++; /* { */
	space(p);
	if (at(p, '}')) {
		p->i++;
		return true;
	}
	for (;;) {
		const uint8_t *k;
		size_t n;
		if (!at(p, '"') || !string(p, &k, &n)) {
			return false;
		}
		space(p);
		if (!at(p, ':')) {
			return false;
		}
		p->i++;
		space(p);
		if (!member(p, depth, which, idx, k, n)) {
			return false;
		}
		space(p);
		if (p->i >= p->len) {
			return false;
		}
		uint8_t c = p->b[p->i++];
		if (c == '}') {
			return true;
		}
		if (c != ',') {
			return false;
		}
		space(p);
	}
}

/* --- Output: one growable buffer, reused; a failed growth sticks until the next message. --- */

static uint8_t *out;
static size_t out_len, out_cap;
static bool out_oom;

/* reserve returns room for extra more bytes at out + out_len, or NULL (and sets out_oom). */
static uint8_t *reserve(size_t extra) {
	if (out_oom) {
		return NULL;
	}
	if (out == NULL || out_cap - out_len < extra) {
		size_t cap = 2 * out_cap;
		if (cap - out_len < extra) {
			if (extra > SIZE_MAX - out_len) {
				out_oom = true;
				return NULL;
			}
			cap = out_len + extra;
		}
		if (cap < 1024) {
			cap = 1024;
		}
		uint8_t *grown = realloc(out, cap);
		if (grown == NULL) {
			out_oom = true;
			return NULL;
		}
		out = grown;
		out_cap = cap;
	}
	return out + out_len;
}

static void put(const void *s, size_t n) {
	uint8_t *w = reserve(n);
	if (w != NULL) {
		memcpy(w, s, n);
		out_len += n;
	}
}

static void put_cstr(const char *s) { put(s, strlen(s)); }

/* escaped writes s as the inside of a JSON string; lower maps ASCII A-Z to a-z. */
static void escaped(const uint8_t *s, size_t n, bool lower) {
	static const char hex[] = "0123456789abcdef";
	uint8_t *w = n <= SIZE_MAX / 6 ? reserve(6 * n) : NULL;
	if (w == NULL) {
		out_oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\') {
			*w++ = '\\';
			*w++ = c;
		} else if (c < 0x20) {
			memcpy(w, "\\u00", 4);
			w[4] = (uint8_t)hex[c >> 4];
			w[5] = (uint8_t)hex[c & 15];
			w += 6;
		} else {
			*w++ = lower && c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
		}
	}
	out_len = (size_t)(w - out);
}

static void quoted(const field *f, bool lower) {
	put("\"", 1);
	escaped(f->s, f->n, lower);
	put("\"", 1);
}

static void integer(int64_t v) { /* v >= 0 */
	char buf[20];
	size_t i = sizeof buf;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put(buf + i, sizeof buf - i);
}

/* --- The transform. --- */

static bool text(const field *f) { return f->kind == K_STRING && f->n > 0; }

static int reject_sku(sluice_message *m, const char *reason, const field *sku) {
	out_len = 0;
	put_cstr(reason);
	put(sku->s, sku->n);
	return out_oom ? sluice_fail(m, "out of memory") : sluice_reject_n(m, out, out_len);
}

int sluice_handle(sluice_message *m) {
	order o = {0};
	parser p = {.b = m->body.ptr, .len = m->body.len, .o = &o};
	nitems = 0;
	out_len = 0;
	out_oom = false;

	space(&p);
	bool ok = at(&p, '{') && object(&p, 0, OBJ_ROOT, 0);
	space(&p);
	if (p.oom) {
		return sluice_fail(m, "out of memory");
	}
	if (!ok || p.i != p.len) {
		return sluice_reject(m, "invalid JSON");
	}

	if (!text(&o.id)) {
		return sluice_reject(m, "missing field: id");
	}
	if (o.customer.kind != K_OBJECT) {
		return sluice_reject(m, "missing field: customer");
	}
	if (!text(&o.first_name)) {
		return sluice_reject(m, "missing field: customer.first_name");
	}
	if (!text(&o.last_name)) {
		return sluice_reject(m, "missing field: customer.last_name");
	}
	if (!text(&o.email)) {
		return sluice_reject(m, "missing field: customer.email");
	}
	if (!text(&o.currency)) {
		return sluice_reject(m, "missing field: currency");
	}
	if (o.items.kind != K_ARRAY || nitems == 0) {
		return sluice_reject(m, "missing field: items");
	}
	int64_t total = 0;
	for (size_t i = 0; i < nitems; i++) {
		item *it = &items[i];
		if (!it->object || !text(&it->sku)) {
			return sluice_reject(m, "missing field: items.sku");
		}
		if (it->qty.kind != K_INT || it->qty.i < 1) {
			return reject_sku(m, "invalid quantity for sku ", &it->sku);
		}
		if (it->price.kind != K_INT || (it->price.i != 0 && it->qty.i > INT64_MAX / it->price.i)) {
			return reject_sku(m, "invalid price for sku ", &it->sku);
		}
		it->amount = it->qty.i * it->price.i;
		if (total > INT64_MAX - it->amount) {
			return reject_sku(m, "invalid price for sku ", &it->sku);
		}
		total += it->amount;
	}

	put_cstr("{\"external_id\":");
	quoted(&o.id, false);
	put_cstr(",\"customer_name\":\"");
	escaped(o.first_name.s, o.first_name.n, false);
	put(" ", 1);
	escaped(o.last_name.s, o.last_name.n, false);
	put_cstr("\",\"email\":");
	quoted(&o.email, true);
	put_cstr(",\"currency\":");
	quoted(&o.currency, false);
	put_cstr(",\"lines\":[");
	for (size_t i = 0; i < nitems; i++) {
		put_cstr(i == 0 ? "{\"sku\":" : ",{\"sku\":");
		quoted(&items[i].sku, false);
		put_cstr(",\"quantity\":");
		integer(items[i].qty.i);
		put_cstr(",\"amount_cents\":");
		integer(items[i].amount);
		put("}", 1);
	}
	put_cstr("],\"total_cents\":");
	integer(total);
	put("}", 1);
	if (out_oom) {
		return sluice_fail(m, "out of memory");
	}
	sluice_set_content_type(m, "application/json");
	sluice_set_output(m, out, out_len);
	return SLUICE_OK;
}
