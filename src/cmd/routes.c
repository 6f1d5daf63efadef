/*
 * routes.c — `entrepot routes`: the route table as JSON, with each route's
 * policy and declared fields. Tests hold it against docs/openapi.json and
 * check that no route lacks a policy.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http/http.h"

static const char *policy_name(enum policy p)
{
    switch (p) {
    case POLICY_PUBLIC:
        return "public";
    case POLICY_TEST_ONLY:
        return "test-only";
    case POLICY_USER:
        return "user";
    case POLICY_STAFF:
        return "staff";
    case POLICY_UNSET:
        break;
    }
    return "unset";
}

static const char *type_name(enum field_type t)
{
    static const char *names[] = {"", "string", "integer", "boolean", "array", "object"};
    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

static json_t *fields(const struct field_spec *f)
{
    json_t *a = json_array();
    for (; f && f->name; f++) {
        json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:I, s:I}", "name", f->name, "type",
                              type_name(f->type), "required", f->required, "nullable", f->nullable,
                              "min", (json_int_t)f->min, "max", (json_int_t)f->max);
        if (f->max_items)
            json_object_set_new(o, "max_items", json_integer(f->max_items));
        if (f->help)
            json_object_set_new(o, "help", json_string(f->help));
        json_array_append_new(a, o);
    }
    return a;
}

int cmd_routes(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: entrepot routes\n\nPrints every route with its policy and declared "
               "parameters as JSON.\n");
        return 0;
    }
    cmd_register_routes();
    json_t *out = json_array();
    for (size_t i = 0; i < http_route_count(); i++) {
        const struct route *r = http_route_at(i);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:b, s:o, s:o}", "method", r->method, "path", r->pattern,
                      "policy", policy_name(r->policy), "test_only", r->policy == POLICY_TEST_ONLY,
                      "params", fields(r->query), "body", fields(r->body));
        if (r->summary)
            json_object_set_new(o, "summary", json_string(r->summary));
        if (r->policy == POLICY_STAFF) {
            static const char *const role_names[] = {"support", "operations", "compliance",
                                                     "administrator"};
            json_t *roles = json_array();
            for (unsigned b = 0; b < 4; b++)
                if (r->roles & (1u << b))
                    json_array_append_new(roles, json_string(role_names[b]));
            json_object_set_new(o, "roles", roles);
        }
        if (!r->body)
            json_object_set_new(o, "body", json_null());
        if (r->raw_types) {
            json_t *types = json_array();
            for (size_t k = 0; r->raw_types[k]; k++)
                json_array_append_new(types, json_string(r->raw_types[k]));
            json_object_set_new(
                o, "raw_body",
                json_pack("{s:o, s:I}", "types", types, "max_bytes", (json_int_t)r->raw_max));
        }
        json_array_append_new(out, o);
    }
    char *s = json_dumps(out, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(out);
    return 0;
}
