"""WeChat Pay API v2 (XML): ``core`` and one module per product (see ``sandbox.pay``)."""
