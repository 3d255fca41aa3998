"""WeChat Pay API v3 (JSON): ``core`` and one module per product (see ``sandbox.pay``)."""
