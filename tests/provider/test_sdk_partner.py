"""wechatpayv3's ``partner_mode`` (a service provider) works against the simulator unchanged
but the base URL: partner JSAPI, query, close, the partner notification (decrypted with the
provider's APIv3 key), refund and refund query with sub_mchid, and the bill per
sub-merchant; and the simulator's partner checks answer as WeChat's."""

import json

from tests.support import wait_for
from tests.support.sdk import make_sdk
from tests.support.simulator import cashier, start_sandbox

SUB, OTHER_APPID = "1900000401", "wxsubmerchant00001"


def test_wechatpayv3_partner_mode(sandbox_settings, receiver, tmp_path):
    server = start_sandbox(sandbox_settings, SANDBOX_SUB_MERCHANTS=f"{SUB}:{OTHER_APPID}")
    try:
        sdk = make_sdk(server, sandbox_settings, tmp_path, partner_mode=True)
        code, message = sdk.pay(
            description="服务商下单",
            out_trade_no="SPORDER001",
            amount={"total": 99},
            payer={"sp_openid": "oSpUser"},
            notify_url=receiver.url,
            sub_mchid=SUB,
        )
        assert code == 200, message
        prepay_id = json.loads(message)["prepay_id"]
        code, message = sdk.query(out_trade_no="SPORDER001", sub_mchid=SUB)
        seen = json.loads(message)
        assert code == 200 and (seen["trade_state"], seen["sub_mchid"]) == ("NOTPAY", SUB)

        assert cashier(server, prepay_id).status_code == 200
        wait_for(receiver.bodies)
        with receiver.lock:
            delivered = receiver.received[0]
        result = sdk.callback(delivered["headers"], delivered["body"])
        paid = result["resource"]
        assert (paid["sp_mchid"], paid["sub_mchid"], paid["payer"]) == (
            sandbox_settings["WECHATPAY_MCHID"],
            SUB,
            {"sp_openid": "oSpUser"},
        )

        code, message = sdk.refund(
            out_refund_no="SPREFUND01",
            amount={"refund": 40, "total": 99, "currency": "CNY"},
            out_trade_no="SPORDER001",
            sub_mchid=SUB,
        )
        assert code == 200, message
        code, message = sdk.query_refund(out_refund_no="SPREFUND01", sub_mchid=SUB)
        assert code == 200 and json.loads(message)["out_refund_no"] == "SPREFUND01"
        day = paid["success_time"][:10]
        code, message = sdk.trade_bill(bill_date=day, sub_mchid=SUB)
        assert code == 200 and "download_url" in json.loads(message), message

        # WeChat's checks: a sub-merchant not bound to the provider, both payers, a
        # sub_openid without sub_appid, an appid not bound.
        refused = [
            ({"sub_mchid": "1900000999", "payer": {"sp_openid": "o"}}, "MCH_NOT_EXISTS"),
            ({"sub_mchid": SUB, "payer": {"sp_openid": "o", "sub_openid": "o"}}, "PARAM_ERROR"),
            ({"sub_mchid": SUB, "payer": {"sub_openid": "o"}}, "PARAM_ERROR"),
            (
                {"sub_mchid": SUB, "payer": {"sub_openid": "o"}, "sub_appid": "wxnotbound0000001"},
                "APPID_MCHID_NOT_MATCH",
            ),
            (
                {"sub_mchid": SUB, "payer": {"sp_openid": "o"}, "appid": OTHER_APPID},
                "APPID_MCHID_NOT_MATCH",
            ),
        ]
        for n, (fields, expected) in enumerate(refused):
            code, message = sdk.pay(
                description="refused",
                out_trade_no=f"SPBAD{n:05d}",
                amount={"total": 1},
                notify_url=receiver.url,
                **fields,
            )
            assert (code, json.loads(message)["code"]) == (400, expected), (fields, message)

        code, _ = sdk.close(out_trade_no="SPORDER001", sub_mchid=SUB)
        assert code == 400  # paid: ORDERPAID
    finally:
        server.stop()
