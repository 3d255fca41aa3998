"""The simulator itself: health, the notification delivery log, the platform certificate,
reset (see ``sandbox.control``)."""

from flask import Blueprint, current_app, request

from ..wire import control_error, json_response

bp = Blueprint("control_simulator", __name__, url_prefix="/sandbox")


def _state():
    return current_app.extensions["sandbox"]


@bp.get("/health")
def health():
    config = _state().config
    return json_response(
        {
            "ok": True,
            "appid": config.appid,
            "mchid": config.mchid,
            "key_mode": config.key_mode,
            "public_key_mode": bool(config.public_key_mode),
        }
    )


@bp.get("/notifications")
def notifications():
    wanted = request.args.get("out_trade_no")
    with _state().lock:
        found = [dict(d) for d in _state().deliveries if wanted in (None, d["out_trade_no"])]
    return json_response({"notifications": found})


@bp.post("/platform-certificate/rotate")
def rotate_platform_certificate():
    """Start signing with a new platform certificate (the old one stays listed)."""
    if _state().config.platform is None:
        return control_error(
            400,
            "NO_PLATFORM_CERTIFICATE",
            "SANDBOX_KEY_MODE=public-key: this merchant has no platform certificate",
        )
    return json_response({"serial_no": _state().rotate_platform_certificate()})


@bp.post("/reset")
def reset():
    _state().reset()
    return json_response({"ok": True})
