"""WeChat's server APIs (api.weixin.qq.com), as a mini program's backend calls them.

- ``login``: ``GET /sns/jscode2session`` (docs/protocol.md A1), redeeming ``wx.login`` codes.
- ``tokens``: ``POST /cgi-bin/stable_token``, the access token every other call carries.
- ``shipping``: the shipping-info service (小程序发货信息管理服务) under ``/wxa/sec/order/``.
- ``push``: messages WeChat pushes to the backend's message URL (signed, optionally encrypted).
- ``errors``: the ``{"errcode", "errmsg"}`` answer these APIs share.

The phone's side of these (``wx.login`` codes, the user confirming receipt) and the controls
of their state are in ``sandbox.control.weixin``. open.weixin.qq.com (web OAuth) goes here too.
"""
