"""The simulator's control endpoints answer malformed JSON with a 4xx, never a 500."""

import pytest
import requests

BODIES = [
    b"[1, 2]",
    b"not json",
    b'"a string"',
    b"{" * 5 + b"}" * 5 + b"x",
    b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    b"\xff\xfe",
]
ENDPOINTS = ["/sandbox/pay", "/sandbox/faults", "/sandbox/refunds/R1", "/sandbox/login-code"]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
@pytest.mark.parametrize("path", ENDPOINTS)
def test_malformed_json_is_a_400_in_the_control_shape(sandbox, path, body):
    response = requests.post(
        sandbox.url + path, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/sandbox/pay", {"prepay_id": ["wx1"]}),
        ("/sandbox/pay", {"out_trade_no": {"a": 1}}),
        ("/sandbox/faults", {"faults": 5}),
        ("/sandbox/faults", {"faults": [[1]]}),
        ("/sandbox/faults", {"faults": ["x"]}),
        ("/sandbox/refunds/R1", {"status": ["SUCCESS"]}),
    ],
)
def test_wrong_types_in_control_bodies_are_a_400(sandbox, path, body):
    response = requests.post(sandbox.url + path, json=body)
    assert response.status_code == 400, response.text
