/* probe.c - probe results of a run: kept for ${probes.NAME.value}, the journal and the reports. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "expect.h"
#include "util.h"

struct probe_sample *
probe_sample_new(const char *probe, const char *context, const char *unit, enum sample_verdict verdict,
    const struct observed *obs, const char *bounds, const char *message)
{
	struct probe_sample *s = xcalloc(1, sizeof(*s));

	s->probe = probe ? xstrdup(probe) : NULL;
	s->context = xstrdup(context);
	s->unit = unit ? xstrdup(unit) : NULL;
	s->at_ms = wall_ms();
	s->verdict = verdict;
	s->latency_ms = -1;
	s->duration_ms = -1;
	if (obs) {
		s->no_data = obs->no_data;
		s->has_value = obs->has_value;
		s->value = obs->value;
		s->value_text = obs->value_text ? xstrdup(obs->value_text) : NULL;
		s->status = obs->status;
		s->latency_ms = obs->latency_ms;
	}
	s->bounds = bounds && *bounds ? xstrdup(bounds) : NULL;
	s->message = message && *message ? xstrdup(message) : NULL;
	return s;
}

struct probe_sample *
probe_sample_copy(const struct probe_sample *s)
{
	struct probe_sample *c = xcalloc(1, sizeof(*c));

	*c = *s;
	c->probe = s->probe ? xstrdup(s->probe) : NULL;
	c->context = xstrdup(s->context);
	c->unit = s->unit ? xstrdup(s->unit) : NULL;
	c->value_text = s->value_text ? xstrdup(s->value_text) : NULL;
	c->bounds = s->bounds ? xstrdup(s->bounds) : NULL;
	c->message = s->message ? xstrdup(s->message) : NULL;
	for (size_t i = 0; i < s->n_baselines; i++) {
		c->baselines[i].probe = xstrdup(s->baselines[i].probe);
		c->baselines[i].value_text = s->baselines[i].value_text ? xstrdup(s->baselines[i].value_text) : NULL;
	}
	return c;
}

void
probe_sample_free(struct probe_sample *s)
{
	if (s == NULL)
		return;
	free(s->probe);
	free(s->context);
	free(s->unit);
	free(s->value_text);
	free(s->bounds);
	free(s->message);
	sample_baselines_release(s->baselines, s->n_baselines);
	free(s);
}

void
sample_baselines_release(struct sample_baseline *bl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(bl[i].probe);
		free(bl[i].value_text);
		bl[i].probe = bl[i].value_text = NULL;
	}
}

void
run_add_sample(struct run *run, struct probe_sample *s)
{
	pthread_mutex_lock(&run->cap_lock);
	PUSH(run->samples, run->n_samples, run->cap_samples, s);
	pthread_mutex_unlock(&run->cap_lock);
}

bool
run_probe_value(struct run *run, const char *name, struct buf *out)
{
	bool found = false;

	pthread_mutex_lock(&run->cap_lock);
	for (size_t i = run->n_samples; i-- > 0;) {
		const struct probe_sample *s = run->samples[i];
		if (s->probe && strcmp(s->probe, name) == 0 && s->value_text) {
			buf_adds(out, s->value_text);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&run->cap_lock);
	return found;
}

void
probe_sample_json(const struct probe_sample *ps, struct json_object *r)
{
	static const char *const verdicts[] = { "pass", "fail", "hold" };

	json_object_object_add(r, "verdict", json_object_new_string(
	    ps->no_data && ps->verdict == SAMPLE_FAIL ? "no_data" : verdicts[ps->verdict]));
	if (ps->no_data)
		json_object_object_add(r, "no_data", json_object_new_boolean(1));
	if (ps->has_value) {
		json_object_object_add(r, "value", json_object_new_double(ps->value));
		json_object_object_add(r, "value_text", json_object_new_string(ps->value_text));
	}
	if (ps->bounds)
		json_object_object_add(r, "bounds", json_object_new_string(ps->bounds));
	if (ps->status)
		json_object_object_add(r, "http_status", json_object_new_int(ps->status));
	if (ps->latency_ms >= 0)
		json_object_object_add(r, "latency_ms", json_object_new_int64(ps->latency_ms));
	if (ps->warning)   /* failed, but did not trip the watch */
		json_object_object_add(r, "warning", json_object_new_boolean(1));
	if (ps->duration_ms >= 0)
		json_object_object_add(r, "duration_ms", json_object_new_int64(ps->duration_ms));
	if (ps->n_baselines) {
		struct json_object *a = json_object_new_array();
		for (size_t i = 0; i < ps->n_baselines; i++) {
			const struct sample_baseline *sb = &ps->baselines[i];
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "bound", json_object_new_string(sb->bound));
			json_object_object_add(o, "probe", json_object_new_string(sb->probe));
			json_object_object_add(o, "value", sb->has_value ? json_object_new_double(sb->value) : NULL);
			json_object_object_add(o, "value_text", sb->value_text ? json_object_new_string(sb->value_text) : NULL);
			json_object_object_add(o, "times", json_object_new_double(sb->times));
			json_object_object_add(o, "plus", json_object_new_double(sb->plus));
			json_object_object_add(o, "limit", sb->has_value ? json_object_new_double(sb->limit) : NULL);
			json_object_array_add(a, o);
		}
		json_object_object_add(r, "baselines", a);
	}
}
