// SPDX-License-Identifier: GPL-2.0
/*
 * fpcopy: copies with the C library's memcpy into pages the copy faults in,
 * checked byte by byte (tests/interop/011).  Run inside UML: a trap in the
 * middle of a copy must not change the vector registers the copy is using.
 *
 * usage: fpcopy [ROUNDS]   prints "N of ROUNDS copies damaged"; exit 1 if
 *                          N > 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3000, bad = 0, r;
	size_t len = 64 * 1024, i;
	char *src = malloc(len);

	if (!src)
		return 2;
	for (i = 0; i < len; i++)
		src[i] = 'a' + i % 26;
	for (r = 0; r < rounds; r++) {
		char *dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (dst == MAP_FAILED)
			return 2;
		/* Unaligned, so every page boundary falls inside a vector. */
		memcpy(dst + 7, src, len - 64);
		if (memcmp(dst + 7, src, len - 64))
			bad++;
		munmap(dst, len);
	}
	printf("%d of %d copies damaged\n", bad, rounds);
	return bad ? 1 : 0;
}
