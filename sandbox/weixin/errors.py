"""The error answer of WeChat's server APIs: HTTP 200, ``{"errcode", "errmsg"}``."""

import secrets

from ..wire import json_response


def wechat_error(errcode, errmsg):
    """WeChat's login errors: HTTP 200, errcode/errmsg, and a trace id in the message."""
    rid = "-".join(secrets.token_hex(4) for _ in range(3))
    return json_response({"errcode": errcode, "errmsg": f"{errmsg}, rid: {rid}"})


def fault_answer(fault):
    """An armed API fault's answer on a /sns path: ``{"errcode", "errmsg"}``, errcode the
    fault's numeric "code" (else -1), with the fault's HTTP status (give 200, as WeChat)."""
    code = str(fault.get("code") or "SYSTEM_ERROR")
    response = wechat_error(
        int(code) if code.lstrip("-").isdigit() else -1, fault.get("message") or "系统错误"
    )
    response.status_code = fault["status"]
    return response
