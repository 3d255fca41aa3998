"""The payment code (付款码, docs/counter.md): ``/pay/micropay`` and ``/secapi/pay/reverse``
(mutual TLS, like refunds). Querying is ``transactions.py``'s orderquery; WeChat sends no
notification for these orders."""

from ..core.errors import ApiError, InvalidResponse
from ..core.types import SUCCESS, USERPAYING, Transaction
from .jsapi import MAX_ATTACH_CHARS, MAX_BODY_CHARS, _client_ip


class Codepay:
    """micropay and reverse."""

    def charge_auth_code(self, request):
        fields = {
            "body": request.description[:MAX_BODY_CHARS],
            "out_trade_no": request.out_trade_no,
            "total_fee": request.total,
            "spbill_create_ip": _client_ip(request.device_ip),
            "auth_code": request.auth_code,
        }
        if request.attach:
            fields["attach"] = request.attach[:MAX_ATTACH_CHARS]
        try:
            # Not retried: a lost answer is settled by orderquery, never a second charge.
            data = self._call("/pay/micropay", fields, retry=False)
        except ApiError as exc:
            if exc.code == USERPAYING:  # the customer is asked for the PIN: poll
                return Transaction(out_trade_no=request.out_trade_no, trade_state=USERPAYING)
            raise
        if data.get("out_trade_no") != request.out_trade_no:
            raise InvalidResponse("micropay answered about another order")
        try:
            return self._transaction(data, SUCCESS)
        except ValueError as exc:
            raise InvalidResponse(f"micropay answer is malformed: {exc}") from None

    def reverse_order(self, out_trade_no):
        """True when WeChat asks to be called again (``recall=Y``)."""
        if self.cert_session is None:
            raise ApiError(
                "CLIENT_CERT_NOT_CONFIGURED",
                "v2 reverse needs the merchant's API certificate: set WECHATPAY_CERT and "
                "WECHATPAY_PRIVATE_KEY",
            )
        data = self._call(
            "/secapi/pay/reverse",
            {"out_trade_no": out_trade_no},
            retry=False,
            session=self.cert_session,
        )
        return data.get("recall") == "Y"
