"""One DomainError, one table of statuses: every code raised in server/ has its status there,
and the surfaces turn a DomainError into their form (the API's JSON is pinned by the contract
tests; the CLI's here)."""

import ast
from pathlib import Path

import pytest

import server
from server.errors import STAFF_AND_WECHAT, STATUS, USER_FACING
from server.wechat import push

SERVER = Path(server.__file__).resolve().parent
RAISERS = ("DomainError", "PaymentMismatch", "RefundMismatch")


def raised_codes():
    """(file, code) for every DomainError(...) with a literal code under server/."""
    for path in sorted(SERVER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in RAISERS and isinstance(first, ast.Constant):
                yield path.relative_to(SERVER), first.value


def test_every_code_raised_has_a_status():
    found = list(raised_codes())
    assert len(found) > 50
    assert [(str(path), code) for path, code in found if code not in STATUS] == []


def test_every_push_refusal_has_a_status():
    # callbacks/push.py answers PushError's codes as PUSH_<code>.
    codes = {
        node.args[0].value
        for node in ast.walk(ast.parse(Path(push.__file__).read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "PushError"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert codes and {f"PUSH_{code}" for code in codes} <= set(STATUS)


def test_the_table_has_each_code_once():
    assert not set(USER_FACING) & set(STAFF_AND_WECHAT)
    assert all(400 <= status <= 599 for status in STATUS.values())


@pytest.mark.database_agnostic
def test_the_cli_turns_a_domain_error_into_one_line_and_exit_status_1(stack):
    with stack.app.app_context():
        result = stack.app.test_cli_runner().invoke(
            args=["refund", "2147483647", "--amount", "1", "--reason", "x"]
        )
    assert result.exit_code == 1
    assert result.output.strip() == "Error: ORDER_NOT_FOUND: no order 2147483647"
