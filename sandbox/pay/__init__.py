"""WeChat Pay (api.mch.weixin.qq.com), one package per API version, one module per product.

- ``v3/``: JSON. ``core`` (the merchant's signature in, WeChat's signature out, errors, the
  blueprint factory), then ``certificates``, ``transactions`` (JSAPI, Native, H5, APP orders:
  place, query, close, the payment notification), ``refunds``, ``bills``.
- ``v2/``: XML. ``core`` (XML, sign check and signed answers, errors, the blueprint factory),
  then ``orders`` (unifiedorder, orderquery, closeorder, the payment notification),
  ``refunds``, ``bills``, and ``unsupported`` (the v2 endpoints not simulated, refused as
  WeChat refuses a merchant without the product).

Shared by both versions, as at WeChat: an order is one record whichever version placed it
(``SandboxState.orders``), ``refunds`` (a refund is one record too, with the same rules),
``bills`` (the bill files, laid out per version) and ``checks``.
"""
