"""`flask --app server doctor` for a service provider: the provider's keys, then each store's
binding (a signed partner query of an order that does not exist, per sub_mchid)."""

import pytest

from server.cli.doctor import FAIL, OK, diagnose

from .support import CENTRALISED, NOODLES, TEA

BAKERY = "1900000103"


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


def test_the_doctor_checks_each_stores_binding_over_v2(make_stack):
    """v2: orderquery with the store's sub_mch_id (and sub_appid). At WeChat the provider has
    the tea shop and the bakery, not the noodle shop; the bakery's sub_appid is not the one
    bound to it."""
    stack = make_stack(
        **{
            **CENTRALISED,
            "WECHATPAY_API_VERSION": "v2",
            "WECHATPAY_STORES": "tea,noodles,bakery",
            "WECHATPAY_STORE_BAKERY_SUB_MCHID": BAKERY,
            "WECHATPAY_STORE_BAKERY_SUB_APPID": "wxbakery000000001",
            "SANDBOX_SUB_MERCHANTS": f"{TEA},{BAKERY}:wxsomeoneelse0001",
        }
    )
    checks = {check.name: check for check in diagnose(stack.app.config)}
    assert checks["v2 API key"].status == OK
    assert checks["store tea (v2)"].status == OK, checks["store tea (v2)"]
    assert "ORDERNOTEXIST" in checks["store tea (v2)"].detail
    noodles = checks["store noodles (v2)"]
    assert noodles.status == FAIL and NOODLES in noodles.detail
    assert "WECHATPAY_STORE_NOODLES_SUB_MCHID" in noodles.fix
    bakery = checks["store bakery (v2)"]
    assert bakery.status == FAIL and "APPID_MCHID_NOT_MATCH" in bakery.detail
    assert "WECHATPAY_STORE_BAKERY_SUB_APPID" in bakery.fix
    assert not [name for name in checks if name.startswith("store") and "(v2)" not in name]
