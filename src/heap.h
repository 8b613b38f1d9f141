#ifndef MIGRATE_HEAP_H
#define MIGRATE_HEAP_H

/*
 * For a short-lived command that builds a whole runbook and exits (plan,
 * validate): reserve the heap at once, on transparent huge pages where the
 * kernel offers them, and keep what is freed in it. Call before anything
 * large is allocated. A no-op in sanitizer builds.
 */
void heap_prefer_huge_pages(void);

#endif
