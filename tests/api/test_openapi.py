"""docs/openapi.json held against the router (`entrepot routes`), both ways:
every non-test route documented with its parameters, body fields and problem
responses, and every documented operation served."""
import json
import os
import re

from harness import check, eq

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
TYPE_MAP = {"string": "string", "str": "string", "integer": "integer", "int": "integer",
            "boolean": "boolean", "bool": "boolean", "array": "array",
            "string_array": "array", "string[]": "array", "array<string>": "array",
            "object": "object"}


def _load_doc(t):
    path = os.path.join(t.repo, "docs", "openapi.json")
    check(os.path.exists(path), "docs/openapi.json does not exist")
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise AssertionError(f"docs/openapi.json is not JSON: {e}")


def _routes(t):
    p = t.run_bin(["routes"])
    eq(p.returncode, 0, f"`entrepot routes` exit ({p.stderr[-300:]})")
    try:
        routes = json.loads(p.stdout)
    except ValueError as e:
        raise AssertionError(f"`entrepot routes` did not print JSON: {e}: {p.stdout[:200]!r}")
    check(isinstance(routes, list) and routes, "`entrepot routes` printed no routes")
    for r in routes:
        for k in ("method", "path", "policy", "params", "body", "test_only"):
            check(k in r, f"route {r.get('method')} {r.get('path')} lacks {k!r}")
        r["path"] = re.sub(r":([A-Za-z_][A-Za-z0-9_]*)", r"{\1}", r["path"])
        r["method"] = r["method"].upper()
    return routes


def _resolve(doc, obj, depth=0):
    while isinstance(obj, dict) and "$ref" in obj:
        check(depth < 20, "$ref loop")
        ref = obj["$ref"]
        check(ref.startswith("#/"), f"external $ref {ref!r}")
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            check(isinstance(node, dict) and part in node, f"dangling $ref {ref!r}")
            node = node[part]
        obj = node
        depth += 1
    return obj


def _ops(doc):
    out = {}
    for path, item in doc.get("paths", {}).items():
        item = _resolve(doc, item)
        for m in METHODS:
            if m in item:
                out[(path, m.upper())] = (item, _resolve(doc, item[m]))
    return out


def _placeholders(path):
    return re.findall(r"\{([^}]+)\}", path)


def test_openapi_document_is_3_1(t):
    doc = _load_doc(t)
    check(str(doc.get("openapi", "")).startswith("3.1"), f"openapi version {doc.get('openapi')!r}")
    info = doc.get("info", {})
    check(info.get("title") and info.get("version"), "info.title / info.version missing")
    ops = _ops(doc)
    check(ops, "no operations documented")
    ids = [op.get("operationId") for _, op in ops.values() if op.get("operationId")]
    eq(len(ids), len(set(ids)), "operationIds are unique")


def test_routes_and_document_agree_both_ways(t):
    doc = _load_doc(t)
    routes = _routes(t)
    served = {(r["path"], r["method"]) for r in routes if not r["test_only"]}
    documented = set(_ops(doc))
    # HEAD is implied by GET on both sides.
    served = {(p, m) for p, m in served if m != "HEAD"}
    documented = {(p, m) for p, m in documented if m != "HEAD"}
    undocumented = sorted(served - documented)
    unserved = sorted(documented - served)
    check(not undocumented, f"routes missing from docs/openapi.json: {undocumented}")
    check(not unserved, f"documented operations the router does not serve: {unserved}")
    by_path = {}
    for p, m in served:
        by_path.setdefault(p, set()).add(m)
    doc_by_path = {}
    for p, m in documented:
        doc_by_path.setdefault(p, set()).add(m)
    eq(doc_by_path, by_path, "method sets per path")
    for r in routes:
        if r["test_only"]:
            check(r["path"] not in doc.get("paths", {}),
                  f"test-only route {r['path']} is in the public document")
    seen = set()
    for r in routes:
        key = (r["method"], r["path"])
        check(key not in seen, f"route {key} registered twice")
        seen.add(key)
        check(r["policy"] and r["policy"] != "unset", f"route {key} has no policy")
        check(r["path"].startswith("/"), f"route path {r['path']!r}")


def test_every_operation_lists_problem_responses(t):
    doc = _load_doc(t)
    for (path, method), (_, op) in _ops(doc).items():
        responses = op.get("responses", {})
        check(any(re.match(r"^2(\d\d|XX)$", str(c)) for c in responses),
              f"{method} {path}: no success response")
        problems = [c for c in responses if re.match(r"^[45](\d\d|XX)$", str(c))]
        check(problems, f"{method} {path}: no 4xx/5xx problem response documented")
        for c in problems:
            resp = _resolve(doc, responses[c])
            content = resp.get("content", {})
            check("application/problem+json" in content,
                  f"{method} {path} {c}: not documented as application/problem+json")


def _params(item, op, doc):
    out = {}
    for p in list(item.get("parameters", [])) + list(op.get("parameters", [])):
        p = _resolve(doc, p)
        out[(p.get("in"), p.get("name"))] = p
    return out


def test_parameters_and_bodies_match_the_router(t):
    doc = _load_doc(t)
    ops = _ops(doc)
    for r in _routes(t):
        if r["test_only"] or r["method"] == "HEAD":
            continue
        key = (r["path"], r["method"])
        if key not in ops:
            continue  # reported by the both-ways test
        item, op = ops[key]
        what = f"{r['method']} {r['path']}"
        params = _params(item, op, doc)
        path_names = set(_placeholders(r["path"]))
        eq({n for (i, n) in params if i == "path"}, path_names, f"{what}: path parameters")
        for n in path_names:
            check(params[("path", n)].get("required") is True, f"{what}: path param {n} not required")
        query = set()
        for p in r["params"] or []:
            name = p.get("name") if isinstance(p, dict) else str(p)
            where = p.get("in") if isinstance(p, dict) else None
            if where == "path" or (where is None and name in path_names):
                continue
            query.add(name)
            if isinstance(p, dict) and "required" in p:
                eq(bool(params.get(("query", name), {}).get("required", False)), bool(p["required"]),
                   f"{what}: query param {name} required flag")
        eq({n for (i, n) in params if i == "query"}, query, f"{what}: query parameters")
        body = r["body"] or []
        rb = _resolve(doc, op.get("requestBody")) if op.get("requestBody") else None
        if r.get("raw_body"):
            check(rb is not None, f"{what}: raw requestBody not documented")
            eq(set(rb.get("content", {})), set(r["raw_body"]["types"]),
               f"{what}: raw body media types")
            continue
        if not body:
            check(rb is None, f"{what}: documents a requestBody the route does not take")
            continue
        check(rb is not None, f"{what}: requestBody not documented")
        content = rb.get("content", {})
        check("application/json" in content, f"{what}: requestBody is not application/json")
        schema = _resolve(doc, content["application/json"].get("schema", {}))
        props = schema.get("properties", {})
        eq(set(props), {f["name"] for f in body}, f"{what}: body properties")
        eq(set(schema.get("required", [])), {f["name"] for f in body if f.get("required")},
           f"{what}: required body fields")
        check(schema.get("additionalProperties") is False,
              f"{what}: schema must say additionalProperties: false (unknown fields are refused)")
        for f in body:
            want = TYPE_MAP.get(str(f.get("type", "")).lower())
            if not want:
                continue
            ps = _resolve(doc, props[f["name"]])
            types = ps.get("type")
            types = types if isinstance(types, list) else [types]
            check(want in types, f"{what}: body field {f['name']} is {f['type']} in the router, "
                                 f"{ps.get('type')!r} in the document")


def test_routes_declares_the_test_routes(t):
    routes = {(r["method"], r["path"]): r for r in _routes(t)}
    echo = routes.get(("POST", "/api/v1/test/echo"))
    check(echo, "POST /api/v1/test/echo not in `entrepot routes`")
    check(echo["test_only"] is True, "echo is not marked test_only")
    clock = routes.get(("POST", "/api/v1/test/clock"))
    check(clock and clock["test_only"] is True, "clock route missing or not test_only")
    fields = {f["name"]: f for f in echo["body"]}
    eq(set(fields), {"name", "count", "active", "tags", "note"}, "echo body fields")
    eq({n for n, f in fields.items() if f.get("required")}, {"name"}, "echo required fields")
    for n, want in [("name", "string"), ("count", "integer"), ("active", "boolean"),
                    ("tags", "array"), ("note", "string")]:
        eq(TYPE_MAP.get(str(fields[n].get("type", "")).lower()), want, f"echo field {n} type")
    ping = routes.get(("GET", "/api/v1/ping"))
    check(ping and ping["test_only"] is False and ping["policy"] == "public",
          f"ping route: {ping!r}")


def test_documented_operations_are_served(t):
    doc = _load_doc(t)
    for (path, method), _ in sorted(_ops(doc).items()):
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        r = t.http.request(method, concrete, body=body, headers=hdrs)
        check(r.status != 405, f"documented {method} {path} answered 405")
        if concrete == path:
            check(r.status != 404, f"documented {method} {path} answered 404")
        check(r.content_type != "text/html", f"documented {method} {path} answered the SPA index")
