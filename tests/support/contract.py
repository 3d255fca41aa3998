"""Check responses against the API contract, server/api/openapi.json (OpenAPI 3.1).

``ContractChecker`` is hooked into every backend the tests start (``make_stack`` in
conftest.py): each response to a documented path must have a documented status, and a JSON
body that matches that status's schema. Violations are collected and fail the test.
"""

import json
import re

from jsonschema import Draft202012Validator

from server.api.contract import DOCUMENT

SPEC = json.loads(DOCUMENT.read_text())


def _template(rule):
    """Flask's '/api/orders/<id:order_id>' as OpenAPI's '/api/orders/{order_id}'."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def response_problem(method, rule, status, content_type, body):
    """What is wrong with one response, or None when it matches the contract."""
    operation = SPEC["paths"].get(_template(rule), {}).get(method.lower())
    if operation is None:
        return f"{method} {rule} is not in the contract"
    responses = operation["responses"]
    documented = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if documented is None:
        return f"{method} {rule} answered {status}, which the contract does not list"
    if "$ref" in documented:
        documented = SPEC["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    media = (content_type or "").split(";")[0].strip()
    content = documented.get("content", {})
    if not content:
        return None if not body else f"{method} {rule} {status} has a body the contract lacks"
    if media not in content:
        return f"{method} {rule} {status} answered {media!r}, not {sorted(content)}"
    if media != "application/json":
        return None
    schema = {**content[media]["schema"], "components": SPEC["components"]}
    try:
        document = json.loads(body)
    except ValueError:
        return f"{method} {rule} {status} body is not JSON"
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=str)
    if errors:
        return f"{method} {rule} {status}: {errors[0].message} at {list(errors[0].path)}"
    return None


class ContractChecker:
    """Install with ``ContractChecker(app)``; ``problems`` lists the violations seen."""

    def __init__(self, app):
        self.problems = []
        app.after_request(self._check)

    def _check(self, response):
        from flask import request

        rule = request.url_rule.rule if request.url_rule else None
        if rule and rule.startswith("/api/") and request.method not in ("HEAD", "OPTIONS"):
            problem = response_problem(
                request.method,
                rule,
                response.status_code,
                response.content_type,
                response.get_data(),
            )
            if problem:
                self.problems.append(problem)
        return response
