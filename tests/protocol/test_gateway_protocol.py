"""The shape of ``server/wechatpay/``: each version offers every call of the Gateway protocol or
refuses it with a typed error, its product modules never define the same call twice, and the
protocol layer imports nothing from the app."""

import ast
import importlib.util
import inspect
from pathlib import Path

import pytest
import requests

import server.wechatpay
from server.wechatpay.core.errors import Unsupported
from server.wechatpay.core.types import Gateway
from server.wechatpay.v2 import V2Gateway
from server.wechatpay.v3 import V3Gateway

pytestmark = pytest.mark.database_agnostic

CALLS = {
    name
    for name, value in vars(Gateway).items()
    if inspect.isfunction(value) and not name.startswith("_")
}
# What each version does not offer: the protocol's default answers it with Unsupported.
NOT_OFFERED = {V3Gateway: set(), V2Gateway: {"apply_abnormal_refund"}}


@pytest.mark.parametrize("gateway", [V3Gateway, V2Gateway])
def test_each_version_implements_every_call_except_those_it_lacks(gateway):
    inherited = {name for name in CALLS if getattr(gateway, name) is getattr(Gateway, name)}
    assert inherited == NOT_OFFERED[gateway]


class NoNetwork(requests.Session):
    def request(self, *args, **kwargs):
        raise AssertionError("nothing may be sent")


def test_a_call_a_version_lacks_is_refused_before_anything_is_sent():
    gateway = V2Gateway(appid="wx1", mchid="1900000001", api_key="k" * 32, session=NoNetwork())
    with pytest.raises(Unsupported) as refused:
        gateway.apply_abnormal_refund("50300000000000000000000000001", "R1", "MERCHANT_BANK_CARD")
    assert refused.value.code == "UNSUPPORTED"
    assert refused.value.message == "API v2 has no apply_abnormal_refund"


@pytest.mark.parametrize("gateway", [V3Gateway, V2Gateway])
def test_no_two_parts_of_a_gateway_define_the_same_name(gateway):
    """A name defined by two product modules would be settled silently by the order of the
    base classes; each product's calls must carry names of their own."""
    owners = {}
    for part in gateway.__mro__[1:]:
        if not part.__module__.startswith(gateway.__module__ + "."):
            continue  # the Gateway protocol's defaults, typing, object
        for name in vars(part):
            if not (name.startswith("__") and name.endswith("__")):
                assert name not in owners, f"{name} is in {owners[name]} and {part.__name__}"
                owners[name] = part.__name__
    assert CALLS - NOT_OFFERED[gateway] <= set(owners)


def imported_modules(path, package):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield importlib.util.resolve_name("." * node.level + (node.module or ""), package)


def test_the_protocol_layer_imports_nothing_from_the_app():
    root = Path(server.wechatpay.__file__).parent
    for path in root.rglob("*.py"):
        module = ".".join(("server", *path.relative_to(root.parent).with_suffix("").parts))
        package = module.removesuffix(".__init__") if path.name == "__init__.py" else module
        package = package if path.name == "__init__.py" else package.rpartition(".")[0]
        for name in imported_modules(path, package):
            top = name.split(".")[0]
            assert top not in ("flask", "flask_sqlalchemy", "sqlalchemy", "sandbox"), (path, name)
            if top == "server":
                assert name.startswith("server.wechatpay"), (path, name)


def test_a_payment_code_never_shows_in_its_requests_repr():
    from server.wechatpay.core.types import CodepayRequest

    auth_code = "134567890123456789"
    request = CodepayRequest(out_trade_no="T1", description="d", total=1, auth_code=auth_code)
    assert request.auth_code == auth_code
    assert auth_code not in repr(request) and auth_code not in str(request)
    assert "T1" in repr(request)  # the rest is shown
