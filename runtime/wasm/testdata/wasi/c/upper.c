// upper-c is a WASI command plugin in plain C (wasi-libc), no SDK: it reads
// the message from stdin and writes it upper-cased (ASCII a-z only, byte by
// byte) to stdout. With the input "fail" it writes a reason to stderr and
// exits with status 3. Built by ../build.sh into ../upper-c.wasm.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
	size_t cap = 64 * 1024, len = 0;
	unsigned char *buf = malloc(cap);
	if (buf == NULL) {
		fputs("upper-c: out of memory\n", stderr);
		return 1;
	}
	for (;;) {
		if (len == cap) {
			cap *= 2;
			unsigned char *nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				fputs("upper-c: out of memory\n", stderr);
				return 1;
			}
			buf = nbuf;
		}
		ssize_t n = read(0, buf + len, cap - len);
		if (n < 0) {
			perror("upper-c: reading stdin");
			return 1;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}

	if (len == 4 && memcmp(buf, "fail", 4) == 0) {
		fputs("upper-c: refusing the input \"fail\"\n", stderr);
		return 3;
	}

	const char *route = getenv("SLUICE_ROUTE");
	fprintf(stderr, "upper-c: %zu bytes for route %s\n", len, route ? route : "");

	for (size_t i = 0; i < len; i++) {
		if (buf[i] >= 'a' && buf[i] <= 'z') {
			buf[i] -= 'a' - 'A';
		}
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(1, buf + off, len - off);
		if (n < 0) {
			perror("upper-c: writing stdout");
			return 1;
		}
		off += (size_t)n;
	}
	return 0;
}
