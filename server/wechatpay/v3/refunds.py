"""Refunds (``/v3/refund/domestic/refunds``): apply, query, the refund notification, and
sending an ABNORMAL refund again."""

from urllib.parse import quote

from .. import checks, crypto
from ..core.errors import InvalidResponse, NotificationError
from ..core.types import RefundNotification, RefundResult, answered_for
from .client import parse_time

REFUNDS = "/v3/refund/domestic/refunds"


class Refunds:
    """Refunds of a merchant's payments (a service provider's name the sub-merchant:
    ``_refund_ids``, sub_mchid in the body on apply, in the query string on query)."""

    def refund(self, request):
        body = {
            **self._refund_ids(),
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "amount": {"refund": request.refund, "total": request.total, "currency": "CNY"},
        }
        if request.reason:
            body["reason"] = request.reason
        if request.notify_url:
            body["notify_url"] = request.notify_url
        return answered_for(self, parse_refund(self._call("POST", REFUNDS, body)))

    def query_refund(self, out_refund_no):
        path = f"{REFUNDS}/{quote(out_refund_no, safe='')}"
        query = self._refund_ids() or None
        return answered_for(self, parse_refund(self._call("GET", path, query=query)))

    def parse_refund_notification(self, headers, body):
        event_id, event_type, payload = self._open_notification(headers, body)
        try:
            result = parse_refund(payload)
        except (ValueError, InvalidResponse):
            raise NotificationError("decrypted resource is not a refund", "MALFORMED") from None
        if not event_type.startswith("REFUND."):
            raise NotificationError("not a refund notification", "NOT_A_REFUND")
        return RefundNotification(
            event_id=event_id, event_type=event_type, refund=result, payload=payload
        )

    def apply_abnormal_refund(
        self, refund_id, out_refund_no, type, bank_type=None, bank_account=None, real_name=None
    ):
        """Send an ABNORMAL refund again: to the user's bank card (``USER_BANK_CARD``, with
        bank_type, bank_account and real_name, encrypted for WeChat) or the merchant's
        (``MERCHANT_BANK_CARD``)."""
        body = {"out_refund_no": out_refund_no, "type": type}
        if bank_type:
            body["bank_type"] = bank_type
        sensitive = {"bank_account": bank_account, "real_name": real_name}
        if any(sensitive.values()):
            serial, key = self.platform_keys.encryption_key()
            body.update(
                {name: crypto.rsa_encrypt(key, value) for name, value in sensitive.items() if value}
            )
            extra = {"Wechatpay-Serial": serial}
        else:
            extra = {}
        path = f"{REFUNDS}/{quote(refund_id, safe='')}/apply-abnormal-refund"
        return parse_refund(self._call("POST", path, body, headers=extra))


def parse_refund(data):
    """A gateway RefundResult from a v3 refund object (answer, query or notification)."""
    if not isinstance(data, dict) or not isinstance(data.get("out_refund_no"), str):
        raise InvalidResponse("not a refund object")
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    if amount.get("currency", "CNY") != "CNY":
        raise InvalidResponse("amount.currency is not CNY")
    status = data.get("status") or data.get("refund_status")  # notifications: refund_status
    refund, total = amount.get("refund"), amount.get("total")
    if status not in ("PROCESSING", "SUCCESS", "CLOSED", "ABNORMAL") or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (refund, total)
    ):
        raise InvalidResponse("refund object without a known status or integer amounts")
    try:  # types and lengths, so a strange (even genuinely signed) answer never reaches a column
        return RefundResult(
            out_refund_no=checks.text(data, "out_refund_no", 64, required=True),
            status=status,
            refund=refund,
            total=total,
            out_trade_no=checks.text(data, "out_trade_no", checks.MAX_OUT_TRADE_NO),
            refund_id=checks.text(data, "refund_id", 64),
            transaction_id=checks.text(data, "transaction_id", checks.MAX_TRANSACTION_ID),
            channel=checks.text(data, "channel", 32),
            user_received_account=checks.text(data, "user_received_account", 128),
            success_time=parse_time(checks.text(data, "success_time", checks.MAX_TEXT)),
            create_time=parse_time(checks.text(data, "create_time", checks.MAX_TEXT)),
            # A service provider's refund names it as sp_mchid (and the sub-merchant).
            mchid=checks.text(data, "mchid", checks.MAX_ID)
            or checks.text(data, "sp_mchid", checks.MAX_ID),
            sub_mchid=checks.text(data, "sub_mchid", checks.MAX_ID),
        )
    except ValueError as exc:
        raise InvalidResponse(f"refund object: {exc}") from None
