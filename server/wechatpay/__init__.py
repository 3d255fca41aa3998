"""The WeChat Pay protocol: no Flask, no database, nothing imported from the app.

Modules here import the standard library, third-party packages and each other, never the rest
of ``server`` (tests/test_gateway_protocol.py checks it): the app builds the gateways from its
settings and talks to them through ``core.types.Gateway``; WeChat's other server APIs
(api.weixin.qq.com: login, access tokens, shipping) are ``server.wechat``.

The layout keeps the core apart from the products, as wechatpay-go's ``core/`` is apart from its
``services/``::

    crypto.py, checks.py   signatures, ciphers, field checks (the simulator reuses them)
    core/http.py           the pooled session, failover to the backup domain, time budgets
    core/errors.py         the typed errors (ApiError, TransportError, ..., Unsupported)
    core/types.py          the data classes and the Gateway protocol: every call the app makes
    v3/client.py, keys.py  API v3's core: signing, verified answers, opened notifications,
                           the WeChat Pay public key and platform certificates
    v2/client.py, messages.py  API v2's core: XML, MD5 / HMAC-SHA256, mutual TLS
    v3/, v2/ jsapi.py      one module per product: a class of calls built on the core
             transactions.py  (query, close and the payment notification, the same calls
                           for every trade type of a direct merchant)
             refunds.py, bills.py
    v3/__init__.py, v2/__init__.py   V3Gateway, V2Gateway: the product classes, the client
                           core and the Gateway protocol, composed as base classes

A version answers every call of the protocol: what it does not offer falls through to the
protocol's default, which raises Unsupported before anything is sent (v2 has no
apply_abnormal_refund), so callers catch a typed error instead of testing for a method.

Adding a product is adding modules, not branching in a class. Native, say:

1. ``v3/native.py``: ``class Native`` with its calls, named after the product so that no two
   products define the same name (``place_native_order(request) -> code_url``), built on
   ``self._call``; querying, closing and the notification are already ``transactions.py``'s.
2. ``v3/__init__.py``: ``from .native import Native`` and ``Native,`` among the bases of
   ``V3Gateway``.
3. ``core/types.py``: the new calls in ``Gateway``, each with the default that raises
   Unsupported, and any request type they take (the v2 gateway refuses them until it has a
   ``v2/native.py`` composed the same way).

H5, APP and the payment code (micropay and reverse) are added the same way. A service
provider's calls (``/v3/pay/partner/...`` with sp_mchid and sub_mchid) are product modules of
their own over the same client core.
"""
