/*
 * mkjournal - write a run journal for the command-line tests, with the real
 * journal module (seq, ts and sum as a run writes them).
 *
 *     mkjournal --state-dir DIR [--run-id ID] [--append] < records.jsonl
 *
 * Reads one JSON object per line on stdin (blank lines are skipped) and
 * appends each to the journal of the run: a new journal (the run id is the
 * first record's "run_id" unless --run-id gives it), or with --append the
 * existing one. Prints the run id. Exits 0, or 1 with a message.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "statedir.h"

static int
fail(const char *what, const char *detail)
{
	fprintf(stderr, "mkjournal: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

int
main(int argc, char **argv)
{
	const char *dir = NULL;
	struct json_object *rec;
	struct statedir *sd = NULL;
	struct journal *j = NULL;
	char *line = NULL, *err = NULL, *run_id = NULL;
	size_t cap = 0, lineno = 0;
	bool append = false;
	ssize_t len;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--run-id") == 0 && i + 1 < argc)
			run_id = strdup(argv[++i]);
		else if (strcmp(argv[i], "--append") == 0)
			append = true;
		else
			return fail("usage: mkjournal --state-dir DIR [--run-id ID] [--append] < records", NULL);
	}
	if (dir == NULL)
		return fail("--state-dir is required", NULL);
	sd = statedir_open(dir, true, &err);
	if (sd == NULL)
		return fail(err, NULL);
	while (rc == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		rec = json_tokener_parse(line);
		if (rec == NULL || !json_object_is_type(rec, json_type_object)) {
			fprintf(stderr, "mkjournal: line %zu is not a JSON object\n", lineno);
			json_object_put(rec);
			rc = 1;
			break;
		}
		if (j == NULL) {
			struct json_object *v;
			if (run_id == NULL && json_object_object_get_ex(rec, "run_id", &v))
				run_id = strdup(json_object_get_string(v));
			if (run_id == NULL)
				rc = fail("no --run-id and the first record has no run_id", NULL);
			else
				j = append ? journal_open_append(sd, run_id, NULL, &err)
				    : journal_create(sd, run_id, &err);
			if (rc == 0 && j == NULL)
				rc = fail(err, NULL);
			if (rc == 0)
				printf("%s\n", run_id);
		}
		if (rc == 0 && journal_append(j, rec, &err) < 0)
			rc = fail(err, NULL);
		json_object_put(rec);
	}
	if (rc == 0 && j == NULL)
		rc = fail("no record on stdin", NULL);
	journal_free(j);
	statedir_free(sd);
	free(run_id);
	free(line);
	free(err);
	return rc;
}
