/* migrate validate RUNBOOK...: check files offline. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exitcode.h"

static struct json_object *
diags_json(const struct diags *d)
{
	struct json_object *a = json_object_new_array();

	for (size_t k = 0; k < d->n; k++) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "file", json_object_new_string(d->v[k].file));
		json_object_object_add(e, "line", json_object_new_int(d->v[k].line));
		json_object_object_add(e, "column", json_object_new_int(d->v[k].col));
		json_object_object_add(e, "message", json_object_new_string(d->v[k].msg));
		json_object_array_add(a, e);
	}
	return a;
}

static int
cmd_validate_exec(const struct cmd_entry *self, struct opts *o)
{
	struct json_object *all = json_object_new_array();
	int rc = EXIT_OK;

	for (size_t i = 0; i < o->n_args; i++) {
		struct diags d = DIAGS_INIT;
		struct runbook *rb = runbook_load(o->args[i], o->overrides, o->n_overrides, &d);

		struct diags w = DIAGS_INIT;

		if (rb)
			runbook_warnings(rb, &w);
		diags_sort(&d);
		diags_sort(&w);
		if (rb == NULL || (o->strict && w.n > 0))
			rc = EXIT_USAGE;
		if (o->format == FORMAT_JSON) {
			struct json_object *f = json_object_new_object();
			struct json_object *errs = diags_json(&d);
			json_object_object_add(f, "file", json_object_new_string(o->args[i]));
			json_object_object_add(f, "valid", json_object_new_boolean(rb != NULL && !(o->strict && w.n > 0)));
			json_object_object_add(f, "errors", errs);
			json_object_object_add(f, "warnings", diags_json(&w));
			json_object_array_add(all, f);
		} else if (rb == NULL) {
			cmd_print_diags(o->args[i], &d, o);
		} else {
			if (w.n > 0)
				cmd_print_warnings(o->args[i], &w, o);
			if (o->strict && w.n > 0)
				fprintf(stderr, "%s: %zu warning%s, which --strict makes errors\n", o->args[i], w.n,
				    w.n == 1 ? "" : "s");
			else if (o->verbosity >= 0)
				printf("%s: ok (runbook '%s', %zu phase%s, %zu step%s%s)\n", o->args[i], rb->name,
				    rb->n_phases, rb->n_phases == 1 ? "" : "s", rb->n_steps, rb->n_steps == 1 ? "" : "s",
				    w.n ? ", with warnings" : "");
		}
		runbook_free(rb);
		diags_release(&d);
		diags_release(&w);
	}
	if (o->format == FORMAT_JSON)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	return rc;
}

const struct cmd_entry cmd_validate_entry = {
	.name = "validate",
	.args_usage = "RUNBOOK... [options]",
	.summary = "check files offline; every error as FILE:LINE:COL: message",
	.help = "Checks each RUNBOOK without running or connecting to anything: YAML\n"
		"syntax, keys and types, names, durations, references to hosts, probes\n"
		"and steps, every ${...} reference, and every regular expression.\n"
		"Every problem is reported, with the source line and a caret.\n"
		"Warns (FILE:LINE:COL: warning: ...) where a var, capture, item, host,\n"
		"probe value or secret reaches a command without |quote; warnings do\n"
		"not change the exit status unless --strict.\n",
	.options = OPT_VARS | OPT_FORMAT | OPT_COLOR | OPT_VERBOSITY | OPT_STRICT,
	.min_args = 1,
	.max_args = -1,
	.exec = cmd_validate_exec,
	.one_shot = true,
};
