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


def test_wechatpayv3_partner_native_h5_app_and_payment_code(sandbox_settings, receiver, tmp_path):
    from wechatpayv3 import WeChatPayType

    server = start_sandbox(sandbox_settings, SANDBOX_SUB_MERCHANTS=f"{SUB}:{OTHER_APPID}")
    try:
        sdk = make_sdk(server, sandbox_settings, tmp_path, partner_mode=True)

        def pay(out_trade_no, pay_type, **extra):
            code, message = sdk.pay(
                description="服务商网店",
                out_trade_no=out_trade_no,
                amount={"total": 660},
                notify_url=receiver.url,
                sub_mchid=SUB,
                pay_type=pay_type,
                **extra,
            )
            assert code == 200, message
            return json.loads(message)

        assert pay("SPNATIVE01", WeChatPayType.NATIVE)["code_url"].startswith("weixin://")
        h5 = pay(
            "SPH5ORDER1",
            WeChatPayType.H5,
            scene_info={"payer_client_ip": "203.0.113.7", "h5_info": {"type": "Wap"}},
        )
        assert "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" in h5["h5_url"]
        app = pay("SPAPPORDER", WeChatPayType.APP)
        for out_trade_no in ("SPNATIVE01", "SPH5ORDER1"):
            code, message = sdk.query(out_trade_no=out_trade_no, sub_mchid=SUB)
            seen = json.loads(message)
            assert code == 200 and (seen["sub_mchid"], seen["trade_state"]) == (SUB, "NOTPAY")
        # The APP order paid: its notification is the partner shape, with the sub-merchant.
        assert cashier(server, app["prepay_id"]).status_code == 200
        wait_for(receiver.bodies)
        with receiver.lock:
            delivered = receiver.received[0]
        paid = sdk.callback(delivered["headers"], delivered["body"])["resource"]
        assert (paid["out_trade_no"], paid["sub_mchid"], paid["trade_type"]) == (
            "SPAPPORDER",
            SUB,
            "APP",
        )

        def charge(out_trade_no, auth_code, sub_mchid=SUB):
            return sdk.pay(
                description="服务商付款码",
                out_trade_no=out_trade_no,
                amount={"total": 300},
                payer={"auth_code": auth_code},
                scene_info={"device_ip": "192.0.2.10"},
                sub_mchid=sub_mchid,
                pay_type=WeChatPayType.CODEPAY,
            )

        # The partner payment code, then its reverse.
        code, message = charge("SPCODEPAY1", "134567890123456789")
        charged = json.loads(message)
        assert code == 200 and (charged["trade_state"], charged["sub_mchid"]) == ("SUCCESS", SUB)
        assert charged["payer"].keys() == {"sp_openid"}
        code, message = sdk.codepay_reverse(out_trade_no="SPCODEPAY1", sub_mchid=SUB)
        assert code == 200 and json.loads(message)["sub_mchid"] == SUB, message
        code, message = sdk.query(out_trade_no="SPCODEPAY1", sub_mchid=SUB)
        assert json.loads(message)["trade_state"] == "REVOKED"
        # Another provider's sub-merchant cannot be charged.
        code, message = charge("SPCODEPAY2", "134567890123456780", sub_mchid="1900000999")
        assert (code, json.loads(message)["code"]) == (400, "MCH_NOT_EXISTS")
    finally:
        server.stop()
