"""The API schema declares its errors: every operation's error answers, in the one shape of
reviewapp/core/errors.py (`{"error": {"code", "message", "fields"?}}`), so a client (and the
schema fuzzer, tests/reviewapp/test_schema_fuzz.py) knows what a 4xx or a 503 carries.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): it adds
the `Error` component and, to each operation, the error statuses it can answer that its view
did not declare itself (a view's own description, e.g. the upload's 413, is kept)."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

# What any authenticated operation can answer: bad parameters, no or a bad token, a role that
# may not, an unknown object (or another tenant's), a method it has not, the throttle, the
# database restarting (errors.api_exception_handler: 503 with Retry-After).
COMMON = {
    "400": "Invalid parameters or body.",
    "401": "No credentials, or invalid ones.",
    "403": "The user's role may not do this.",
    "404": "Not found (or another tenant's).",
    "405": "Method not allowed.",
    "406": "The Accept header asks for a type the API cannot give.",
    "429": "Too many requests (API_THROTTLE_USER / API_THROTTLE_ANON).",
    "503": "The database (or the broker) is unavailable: try again (Retry-After).",
}
# What an operation with a body can answer besides.
WITH_BODY = {
    "409": "Conflicts with the object's current state.",
    "413": "The body is over its size limit.",
    "415": "Unsupported media type.",
}
BODY_METHODS = {"post", "put", "patch"}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name in ("ClipForRole", "ClipDetailForRole"):  # reviewapp/review/api.py `_by_role`
        if "oneOf" in schemas.get(name, {}):
            schemas[name]["anyOf"] = schemas[name].pop("oneOf")
    schemas["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = {**COMMON, **(WITH_BODY if method in BODY_METHODS else {})}
            responses = operation["responses"]
            for code, description in errors.items():
                declared = responses.setdefault(code, {"description": description})
                declared.setdefault("content", content)
    return result
