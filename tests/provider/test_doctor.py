"""`flask --app server doctor` for a service provider: the provider's keys, then each store's
binding (a signed partner query of an order that does not exist, per sub_mchid)."""

import pytest

from server.cli.doctor import FAIL, OK, diagnose

from .support import CENTRALISED, NOODLES, TEA


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """The doctor touches no database: SQLite is enough."""
    return f"sqlite:///{tmp_path / 'app.db'}"


def test_the_doctor_checks_each_stores_binding(make_stack):
    # The provider has bound only the tea shop at WeChat.
    stack = make_stack(**{**CENTRALISED, "SANDBOX_SUB_MERCHANTS": TEA})
    checks = {check.name: check for check in diagnose(stack.app.config)}
    assert checks["merchant key and serial"].status == OK
    assert checks["store tea"].status == OK
    noodles = checks["store noodles"]
    assert noodles.status == FAIL and NOODLES in noodles.detail
    assert "WECHATPAY_STORE_NOODLES_SUB_MCHID" in noodles.fix
