"""The mini program's server APIs (api.weixin.qq.com): login (jscode2session), access token,
shipping info, message push.

Protocol only, like ``server.wechatpay``: no Flask, no database. Storing the access token and
recording what WeChat said are the domain's job (``server/domain/access_tokens.py``,
``server/domain/shipping.py``).
"""
