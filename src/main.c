/*
 * main.c - find the command, parse its options, run it, exit with its code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exitcode.h"
#include "heap.h"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: migrate COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; cmd_table[i]; i++)
		fprintf(fp, "  %-9s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
	fprintf(fp, "\n'migrate help COMMAND' shows a command's options; see migrate(1).\n");
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *e;
	struct opts o;
	bool ambiguous;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		argv[1] = (char *)"version";
	e = cmd_find(argv[1], &ambiguous);
	if (e == NULL) {
		fprintf(stderr, "migrate: %s command '%s'\n", ambiguous ? "ambiguous" : "unknown", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (e->one_shot)
		heap_prefer_huge_pages();
	rc = cmd_parse(e, argc - 1, argv + 1, &o);
	if (rc != 0) {
		opts_release(&o);
		return rc > 0 ? EXIT_OK : EXIT_USAGE;
	}
	rc = e->exec(e, &o);
	opts_release(&o);
	return rc;
}
