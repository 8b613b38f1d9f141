/*
 * heap.c - a short-lived command's heap on huge pages.
 *
 * plan and validate build a whole runbook in memory and then exit: 10,000
 * steps are some 25 MiB of small allocations, and every 4 KiB page of them
 * is faulted in on first touch. On a virtual machine such as CI's a fault
 * costs about 3 us (20 MiB: 16 ms as 4 KiB pages, 2.5 ms as 2 MiB ones),
 * a fifth of such a plan's CPU time. So these commands grow the heap once
 * by HUGE_HEAP, advise the kernel to back it with transparent huge pages
 * (MADV_HUGEPAGE: honoured when THP is "madvise" or "always", ignored under
 * "never"), take large blocks from it too, and do not trim it. The
 * commands that run for long (run, resume) keep glibc's defaults, which
 * give freed memory back sooner.
 *
 * The price: a free that merges into so large a top makes glibc
 * consolidate its fast bins, so allocation-heavy output costs a little
 * more (plan --format json of 100,000 units: about 5 % more CPU), while a
 * text plan of 10,000 steps or 100,000 units costs 15-20 % less.
 */
#include "heap.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_HEAP ((size_t)64 << 20)
#define PAGE ((uintptr_t)4096)

void
heap_prefer_huge_pages(void)
{
#ifndef MIGRATE_SANITIZERS
	uintptr_t lo, hi, at, start;
	void *block;

	if (mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0 || mallopt(M_TOP_PAD, (int)HUGE_HEAP) == 0 ||
	    mallopt(M_TRIM_THRESHOLD, (int)(2 * HUGE_HEAP)) == 0)
		return;
	lo = (uintptr_t)sbrk(0);
	block = malloc(1 << 20);         /* grows the heap by the block and the pad */
	hi = (uintptr_t)sbrk(0);
	at = (uintptr_t)block;
	start = (lo + PAGE - 1) & ~(PAGE - 1);
	/* only if the block came from the heap just grown (not under valgrind, say) */
	if (block != NULL && lo != (uintptr_t)-1 && hi != (uintptr_t)-1 && at >= lo && at < hi && hi > start)
		(void)madvise((void *)start, hi - start, MADV_HUGEPAGE);
	free(block);
	/* later growth by what is asked only, as usual: a 64 MiB step each time
	 * would fail early under a limit on address space (ulimit -v) */
	mallopt(M_TOP_PAD, 128 << 10);
#endif
}
