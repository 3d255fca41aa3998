"""The payment code (付款码, docs/counter.md): ``POST /v3/pay/transactions/codepay`` and
``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/reverse`` (a service provider's under
``/v3/pay/partner/transactions``, with its ids: ``partner.py``). Querying is
``transactions.py``'s; WeChat sends no notification for these orders."""

from urllib.parse import quote

from ..core.errors import InvalidResponse
from ..core.types import USERPAYING, Transaction
from .transactions import parse_transaction


class Codepay:
    """Charge a payment code, and reverse (撤销) the charge."""

    def charge_auth_code(self, request):
        body = {
            **self._order_ids(),
            "description": request.description,
            "out_trade_no": request.out_trade_no,
            "payer": {"auth_code": request.auth_code},
            "amount": {"total": request.total, "currency": "CNY"},
            # Required for the payment code: the terminal (WeChat's doc, docs/counter.md).
            "scene_info": {"device_ip": request.device_ip or "127.0.0.1"},
        }
        if request.attach:
            body["attach"] = request.attach
        # Never resent (repeatable=False): a lost answer is settled by a query of this
        # out_trade_no, never by a second charge.
        data = self._call("POST", f"{self.transactions_path}/codepay", body, repeatable=False)
        if not isinstance(data, dict):
            raise InvalidResponse("codepay answered without a body")
        if data.get("trade_state") == USERPAYING and "out_trade_no" not in data:
            # While the customer types the PIN WeChat answers the state alone.
            return Transaction(out_trade_no=request.out_trade_no, trade_state=USERPAYING)
        transaction = parse_transaction(data)
        if transaction.out_trade_no != request.out_trade_no:
            raise InvalidResponse("codepay answered about another order")
        return transaction

    def reverse_order(self, out_trade_no):
        path = f"{self.transactions_path}/out-trade-no/{quote(out_trade_no, safe='')}/reverse"
        self._call("POST", path, self._order_ids())
        # v3 has no recall flag: "call again" comes as an error (SYSTEM_ERROR) instead.
        return False
