"""The API contract (server/api/openapi.json): served, checked, and fuzzed against a live stack.

Every response the rest of the suite sees is checked against the document by ``make_stack``
(tests/support/contract.py). Here: the document is served and usable, the checker catches what
it should, and schemathesis generates inputs for every operation against a running backend and
simulator, checking "no 5xx" and "the response matches the schema".
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server.api.contract import DOCUMENT
from tests.support.contract import SPEC, response_problem

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Inputs per operation and phase: about half a minute per database on a loaded 2-core machine.
FUZZ_EXAMPLES = 20


@pytest.mark.database_agnostic
def test_the_document_is_served(stack):
    response = requests.get(f"{stack.backend}/api/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(DOCUMENT.read_text())
    assert response.json()["openapi"].startswith("3.1")


@pytest.mark.database_agnostic
def test_every_api_route_is_documented(stack):
    routes = {
        (method, rule.rule)
        for rule in stack.app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    missing = [
        (method, rule)
        for method, rule in sorted(routes)
        if response_problem(method, rule, 0, "", b"").endswith("is not in the contract")
    ]
    assert missing == []


def test_the_checker_catches_undocumented_statuses_and_wrong_shapes():
    assert (
        response_problem("GET", "/api/products", 200, "application/json", b'{"products": []}')
        is None
    )
    assert "does not list" in response_problem(
        "GET", "/api/products", 418, "application/json", b"{}"
    )
    assert "'products' is a required property" in response_problem(
        "GET", "/api/products", 200, "application/json", b'{"items": []}'
    )
    assert (
        response_problem(
            "GET",
            "/api/orders/<id:order_id>",
            404,
            "application/json",
            b'{"error": {"code": "ORDER_NOT_FOUND", "message": "x"}}',
        )
        is None
    )
    assert "is not one of" in response_problem(
        "GET",
        "/api/orders/<id:order_id>",
        404,
        "application/json",
        b'{"error": {"code": "SOMETHING_ELSE", "message": "x"}}',
    )
    # Order objects may gain fields (refunds...): additionalProperties are allowed.
    assert "additionalProperties" in json.dumps(SPEC["components"]["schemas"]["Order"])


def test_fuzzing_the_live_api_finds_no_5xx_and_no_schema_violation(make_stack, tmp_path):
    stack = make_stack(
        RATE_LIMIT_ORDER_WRITES="100000 per minute", RATE_LIMIT_ORDER_READS="100000 per minute"
    )
    auth = stack.login()
    started = time.monotonic()
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{stack.backend}/api/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--seed",
            "20261201",
            "--workers",
            "1",
            "--header",
            f"Authorization: {auth['Authorization']}",
            "--exclude-path",
            "/api/logout",  # would revoke the fuzzer's own token
            "--request-timeout",
            "10",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )  # its cache stays there
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert elapsed < 120, f"the fuzzer took {elapsed:.0f}s"
