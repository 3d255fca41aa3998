"""Refunds: ``/secapi/pay/refund`` over mutual TLS, ``/pay/refundquery``, and the refund
notification (no sign; its ``req_info`` is encrypted with the MD5 of the API key)."""

from dataclasses import replace
from datetime import datetime

from .. import checks, crypto
from ..core.errors import ApiError, InvalidResponse, NotificationError
from ..core.types import (
    CHINA,
    OUT_REFUND_NO,
    REFUND_ABNORMAL,
    REFUND_CLOSED,
    REFUND_PROCESSING,
    REFUND_SUCCESS,
    SUCCESS,
    RefundNotification,
    RefundResult,
    answered_for,
)
from .client import MAX_NOTIFICATION_BYTES
from .messages import XmlError, check_notify_url, fen, xml_to_dict

# v2 refund_status (query: refund_status_$n; notification: refund_status) -> the v3 status.
# CHANGE means the money could not reach the user (closed card...): v3's ABNORMAL.
REFUND_STATUSES = {
    "PROCESSING": REFUND_PROCESSING,
    "SUCCESS": REFUND_SUCCESS,
    "REFUNDCLOSE": REFUND_CLOSED,
    "CHANGE": REFUND_ABNORMAL,
}
REFUND_SUCCESS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # success_time, refund_success_time_$n
MAX_REFUND_DESC_CHARS = 80


def parse_refund_time(value):
    """A refund's ``yyyy-MM-dd HH:mm:ss`` Beijing time -> aware datetime; None when empty."""
    if not value:
        return None
    return datetime.strptime(value, REFUND_SUCCESS_TIME_FORMAT).replace(tzinfo=CHINA)


class Refunds:
    """Refunds of a direct merchant's payments."""

    def refund(self, request):
        """``POST /secapi/pay/refund`` over mutual TLS. WeChat's SUCCESS means accepted: the
        answer is PROCESSING, and the outcome comes by notification or query.

        Not resent here: the caller retries a TransportError or a ``retryable`` ApiError with
        the SAME out_refund_no, which WeChat answers with the same refund (never a second one).
        """
        if not OUT_REFUND_NO.fullmatch(request.out_refund_no or ""):
            raise ValueError("out_refund_no must be 1-64 characters of 0-9A-Za-z_-|*@")
        for value in (request.refund, request.total):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError("refund and total must be positive integers of fen")
        if request.refund > request.total:
            raise ValueError("refund exceeds the order's total")
        if self.cert_session is None:
            raise ApiError(
                "CLIENT_CERT_NOT_CONFIGURED",
                "v2 refunds need the merchant's API "
                "certificate: set WECHATPAY_CERT and WECHATPAY_PRIVATE_KEY",
            )
        fields = {
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "total_fee": request.total,
            "refund_fee": request.refund,
        }
        if request.reason:  # shown to the user; WeChat allows 80 characters
            fields["refund_desc"] = request.reason[:MAX_REFUND_DESC_CHARS]
        if request.notify_url:
            fields["notify_url"] = check_notify_url(request.notify_url)
        data = self._call("/secapi/pay/refund", fields, retry=False, session=self.cert_session)
        if data.get("out_refund_no") != request.out_refund_no:
            raise InvalidResponse("refund answer is about another refund")
        try:
            result = RefundResult(
                out_refund_no=request.out_refund_no,
                status=REFUND_PROCESSING,
                refund=fen(data.get("refund_fee"), "refund_fee"),
                total=fen(data.get("total_fee"), "total_fee"),
                out_trade_no=data.get("out_trade_no") or None,
                refund_id=data.get("refund_id") or None,
                transaction_id=data.get("transaction_id") or None,
                channel=data.get("refund_channel") or None,
                **_whose(data),
            )
        except ValueError as exc:
            raise InvalidResponse(f"refund answer is malformed: {exc}") from None
        return answered_for(self, result)

    def query_refund(self, out_refund_no):
        """``POST /pay/refundquery`` by out_refund_no: WeChat answers the refund as index 0
        of its ``_$n`` fields. ApiError RESOURCE_NOT_EXISTS (v2 REFUNDNOTEXIST) if unknown."""
        data = self._call("/pay/refundquery", {"out_refund_no": out_refund_no}, retry=True)
        index = next(
            (
                n
                for n in range(_refund_count(data))
                if data.get(f"out_refund_no_{n}") == out_refund_no
            ),
            None,
        )
        if index is None:
            raise InvalidResponse("refundquery answer does not list the refund asked about")
        try:
            result = self._refund_result(
                {
                    name: data.get(f"{name}_{index}")
                    for name in (
                        "out_refund_no",
                        "refund_id",
                        "refund_fee",
                        "refund_status",
                        "refund_channel",
                        "refund_recv_accout",
                    )
                },
                data,
                data.get(f"refund_success_time_{index}"),
            )
        except ValueError as exc:
            raise InvalidResponse(f"refundquery answer is malformed: {exc}") from None
        return answered_for(self, result)

    def parse_refund_notification(self, headers, body):
        """Decrypt a v2 refund notification (``headers`` are unused).

        It carries no sign: only its ``req_info``, AES-256-ECB under the MD5 of our API key,
        proves it comes from WeChat. So anything that does not decrypt to a well-formed refund
        is refused; the unencrypted appid / mch_id come back in the result, for the caller to
        check against the refund's order.
        """
        try:
            fields = xml_to_dict(body, MAX_NOTIFICATION_BYTES)
        except XmlError as exc:
            raise NotificationError(f"notification is not v2 XML: {exc}", "MALFORMED") from None
        if fields.get("return_code") != SUCCESS:
            raise NotificationError("notification has return_code FAIL", "NOT_SUCCESS")
        if not fields.get("req_info"):
            raise NotificationError("notification has no req_info", "MALFORMED")
        try:
            plaintext = crypto.aes_ecb_decrypt(self.refund_key, fields["req_info"])
        except crypto.DecryptionError:
            raise NotificationError("req_info does not decrypt", "DECRYPT_FAILED") from None
        try:
            info = xml_to_dict(plaintext, MAX_NOTIFICATION_BYTES, root_tag="root")
            if not info.get("out_refund_no") or not info.get("out_trade_no"):
                raise ValueError("no out_refund_no or out_trade_no")
            result = replace(
                self._refund_result(info, info, info.get("success_time")), **_whose(fields)
            )
            if result.status == REFUND_PROCESSING:
                raise ValueError("a notification reports a final state, not PROCESSING")
        except (XmlError, ValueError) as exc:
            raise NotificationError(f"req_info is malformed: {exc}", "MALFORMED") from None
        payload = {"appid": fields["appid"], "mch_id": fields["mch_id"], **info}
        # v2 has no notification id: a refund reaches each final state once.
        return RefundNotification(
            event_id=f"{result.out_refund_no}:{result.status}",
            event_type=f"REFUND.{result.status}",
            refund=result,
            payload=payload,
        )

    def _refund_result(self, refund, order, success_time):
        """RefundResult from one refund's fields (refund_status, refund_fee...) and the
        order's (total_fee, out_trade_no, transaction_id, and whose: appid, mch_id,
        sub_mch_id); ValueError when malformed."""
        status = REFUND_STATUSES.get(refund.get("refund_status"))
        if status is None:
            raise ValueError(f"unknown refund_status {str(refund.get('refund_status'))[:20]!r}")
        return RefundResult(
            out_refund_no=refund["out_refund_no"],
            status=status,
            refund=fen(refund.get("refund_fee"), "refund_fee"),
            total=fen(order.get("total_fee"), "total_fee"),
            out_trade_no=order.get("out_trade_no") or None,
            refund_id=refund.get("refund_id") or None,
            transaction_id=order.get("transaction_id") or None,
            channel=refund.get("refund_channel") or None,
            user_received_account=refund.get("refund_recv_accout") or None,  # sic: WeChat's
            success_time=parse_refund_time(success_time),
            **_whose(order),
        )


def _whose(fields):
    """Whose refund a v2 message says it is: appid and mch_id, and a service provider's
    sub_mch_id, which the answers to refund and refundquery and the notification of a
    sub-merchant's refund all repeat (docs/provider.md, "The partner API"). The order's ids
    are checked against them (``domain.payments.is_orders``): a sub-merchant's refund read
    without its sub_mch_id would be taken for another merchant's."""
    return {
        "appid": checks.text(fields, "appid", checks.MAX_ID),
        "mchid": checks.text(fields, "mch_id", checks.MAX_ID),
        "sub_mchid": checks.text(fields, "sub_mch_id", checks.MAX_ID),
    }


def _refund_count(data):
    count = data.get("refund_count") or "0"
    if not count.isdigit():
        raise InvalidResponse("refundquery answer has no refund_count")
    return min(int(count), 50)  # WeChat allows 50 refunds per order
