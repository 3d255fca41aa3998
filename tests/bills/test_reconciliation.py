"""Daily bills and reconciliation.

The parser is pinned to two real WeChat bills (tests/bills/fixtures/README.md names them); the
reconciliation runs against the simulator over real HTTP, on SQLite and PostgreSQL, with every
kind of difference provoked the way it happens: a lost notification, a payment or refund only
WeChat has, a different amount, a payment only we have.
"""

import hashlib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from server.domain import bills
from server.domain.bills import parse_bill, to_fen
from server.errors import DomainError
from server.extensions import db
from server.models import Order, ReconciliationRun, Refund
from server.timeutil import CHINA, utcnow
from tests.support import wait_for
from tests.support.simulator import Merchant

FIXTURES = Path(__file__).parent / "fixtures"
V3_BILL = (FIXTURES / "v3_tradebill_ALL_2021-01-28.csv").read_bytes()
V2_BILL = (FIXTURES / "v2_downloadbill_SUCCESS_2019-11-04.csv").read_bytes()


# --- the parser, pinned to WeChat's own bills ----------------------------------------------------


# The SHA1 WeChat announced for this bill (/v3/bill/tradebill's hash_value, fixtures/README.md):
# it pins the bytes, BOM and CRLF included, to what WeChat served.
V3_BILL_WECHAT_SHA1 = "dcd7ceb3d382a1181798368bb15d8437de46c00f"


def test_parses_a_real_v3_trade_bill():
    assert hashlib.sha1(V3_BILL).hexdigest() == V3_BILL_WECHAT_SHA1
    assert V3_BILL.startswith(b"\xef\xbb\xbf\xe4\xba\xa4") and V3_BILL.endswith(b"`0.00\r\n")
    assert V3_BILL.count(b"\r\n") == V3_BILL.count(b"\n") == 6
    bill = parse_bill(V3_BILL)
    assert len(bill.header) == 27 and bill.header[0] == "交易时间" and bill.header[-1] == "费率备注"
    assert len(bill.rows) == 3
    first = bill.rows[0]
    assert first["商户订单号"] == "S20210128170702357723"
    assert first["微信订单号"] == "4200000925202101284997714292"
    assert first["商户数据包"] == "cipher code" and first["费率备注"] == ""
    assert bill.summary == {
        "总交易单数": "3",
        "应结订单总金额": "0.03",
        "退款总金额": "0.00",
        "充值券退款总金额": "0.00",
        "手续费总金额": "0.00000",
        "订单总金额": "0.03",
        "申请退款总金额": "0.00",
    }
    bills.check_trade_summary(bill)
    paid, refunded = bills.trade_entries(bill)
    assert [(p.out_trade_no, p.total) for p in paid] == [
        ("S20210128170702357723", 1),
        ("S20210128153505214586", 1),
        ("S20210128165824499930", 1),
    ]
    assert refunded == []
    # The same bill as a Go SDK's test re-typed it (no BOM, LF) reads the same.
    plain = V3_BILL.decode("utf-8-sig").replace("\r\n", "\n").encode()
    assert parse_bill(plain) == bill
    assert parse_bill(plain.rstrip(b"\n")) == bill  # and without the last line end


def test_parses_a_real_v2_bill_with_bom_and_crlf():
    assert V2_BILL.startswith(b"\xef\xbb\xbf") and V2_BILL.count(b"\r\n") == 7
    bill = parse_bill(V2_BILL)
    assert bill.header[0] == "交易时间"  # the BOM is not part of the first column's name
    assert len(bill.header) == 20 and "申请退款金额" not in bill.header
    assert [row["商户订单号"] for row in bill.rows][:2] == [
        "1572864513058gxaivpd",
        "1572868323023nkfdudu",
    ]
    bills.check_trade_summary(bill)
    paid, _ = bills.trade_entries(bill)
    assert sum(p.total for p in paid) == 5
    # The same bill with LF line ends and no BOM reads the same.
    plain = V2_BILL.decode("utf-8-sig").replace("\r\n", "\n").encode()
    assert parse_bill(plain) == bill


def test_unknown_columns_are_kept_and_columns_are_read_by_name():
    lines = V3_BILL.decode("utf-8-sig").splitlines()
    lines[0] = "新列," + lines[0]
    lines[1:4] = ["`x," + line for line in lines[1:4]]
    bill = parse_bill("\n".join(lines).encode())
    assert bill.rows[0]["新列"] == "x"
    assert bills.trade_entries(bill)[0][0].out_trade_no == "S20210128170702357723"


@pytest.mark.parametrize(
    "yuan, fen",
    [("0.01", 1), ("1299.02", 129902), ("0.1", 10), ("-0.07", -7), ("20", 2000), ("0.07", 7)],
)
def test_yuan_to_fen_is_exact(yuan, fen):
    assert to_fen(yuan) == fen


@pytest.mark.parametrize("bad", ["0.001", "abc", "", "1e400", "NaN"])
def test_amounts_that_are_not_whole_fen_are_refused(bad):
    with pytest.raises(DomainError) as error:
        to_fen(bad)
    assert error.value.code == "BILL_MALFORMED"


@pytest.mark.parametrize(
    "change, code",
    [
        (lambda t: t.replace("`3,`0.03", "`4,`0.03"), "BILL_SUMMARY_MISMATCH"),
        (
            lambda t: t.replace(
                "`3,`0.03,`0.00,`0.00,`0.00000,`0.03", "`3,`0.04,`0.00,`0.00,`0.00000,`0.03"
            ),
            "BILL_SUMMARY_MISMATCH",
        ),
        (lambda t: t.rsplit("总交易单数", 1)[0], "BILL_MALFORMED"),
        (lambda t: t.replace("`NATIVE,", "`NATIVE,`extra,", 1), "BILL_MALFORMED"),
    ],
)
def test_a_bill_whose_summary_or_shape_is_wrong_is_refused(change, code):
    with pytest.raises(DomainError) as error:
        bills.check_trade_summary(parse_bill(change(V3_BILL.decode()).encode()))
    assert error.value.code == code


# --- reconciliation against the simulator -------------------------------------------------------


def today():
    return bills.beijing_today()


def pay(stack, auth, notified=True):
    """An order paid at WeChat's cashier; with ``notified``, once the backend has it PAID."""
    created = stack.create_order(auth).json()
    assert stack.cashier(created["pay_params"]).status_code == 200
    order = created["order"]
    if notified:
        wait_for(
            lambda: (
                stack.query("SELECT status FROM orders WHERE id = :i", i=order["id"]) == [("PAID",)]
            )
        )
    return order


def reconcile(stack, day=None):
    return stack.cli("bills", "reconcile", "--date", (day or today()).isoformat())


def differences(stack):
    return sorted(
        tuple(row)
        for row in stack.query(
            "SELECT kind, out_trade_no, resolved_at IS NOT NULL FROM bill_differences"
        )
    )


def test_a_day_that_agrees_is_clean(stack):
    auth = stack.login()
    order = pay(stack, auth)
    output = stack.cli("bills", "reconcile", "--date", "today")
    assert "CLEAN" in output and "no differences" in output
    [run] = stack.query(
        "SELECT status, payments_wechat, paid_total_wechat, payments_ours, "
        "paid_total_ours, bill_rows, trade_bill_sha1, fund_flow_bill_sha1 "
        "FROM reconciliation_runs"
    )
    assert run[:6] == ("CLEAN", 1, order["total"], 1, order["total"], 1)
    assert len(run[6]) == 40 and len(run[7]) == 40  # both bills downloaded and checked


def test_every_kind_of_difference_is_found_and_classified(stack):
    auth = stack.login()
    agreed = pay(stack, auth)
    # A payment whose notification never arrived: WeChat has it, we have NOTPAY.
    stack.control("faults", kind="notify", action="drop")
    missed = pay(stack, auth, notified=False)
    assert stack.query("SELECT status FROM orders WHERE id = :i", i=missed["id"]) == [("NOTPAY",)]
    day = today().isoformat()
    stack.control(
        f"bills/{day}",
        kind="amount",
        out_trade_no=agreed["out_trade_no"],
        total=agreed["total"] + 1,
    )
    unknown = stack.control(f"bills/{day}", kind="payment", total=888)["change"]
    # Another system on the same merchant account, with longer order numbers than ours.
    foreign = stack.control(f"bills/{day}", kind="payment", total=1, out_trade_no="F" * 40)[
        "change"
    ]
    refund = stack.control(
        f"bills/{day}", kind="refund", refund=50, out_trade_no=agreed["out_trade_no"]
    )["change"]
    # A payment only we have (a bug of ours, or a forged success): PAID here, unknown there.
    ours_only = stack.create_order(auth).json()["order"]
    with stack.app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == ours_only["id"])
            .values(
                status=Order.PAID, transaction_id="4200000000000000000000000001", paid_at=utcnow()
            )
        )
        db.session.commit()

    output = reconcile(stack)
    assert "DIFFERENCES" in output
    assert differences(stack) == sorted(
        [
            ("AMOUNT_MISMATCH", agreed["out_trade_no"], False),
            ("MISSED_PAYMENT", missed["out_trade_no"], False),
            ("PAID_NOT_IN_BILL", ours_only["out_trade_no"], False),
            ("UNKNOWN_PAYMENT", foreign["out_trade_no"][:32], False),
            ("UNKNOWN_PAYMENT", unknown["out_trade_no"], False),
            ("UNKNOWN_REFUND", agreed["out_trade_no"], False),
        ]
    )
    # The missed payment was applied through the query path, and recorded as such.
    assert stack.query("SELECT status FROM orders WHERE id = :i", i=missed["id"]) == [("PAID",)]
    assert stack.query(
        "SELECT event_type FROM payment_events WHERE order_id = :i", i=missed["id"]
    ) == [("QUERY.SUCCESS",)]
    [(ours, wechat)] = stack.query(
        "SELECT ours, wechat FROM bill_differences WHERE kind = 'AMOUNT_MISMATCH'"
    )
    assert f"{agreed['total']} fen" in ours and f"{agreed['total'] + 1} fen" in wechat
    [(refund_no,)] = stack.query(
        "SELECT out_refund_no FROM bill_differences WHERE kind = 'UNKNOWN_REFUND'"
    )
    assert refund_no == refund["out_refund_no"]
    [run] = stack.query(
        "SELECT payments_wechat, paid_total_wechat, refunds_wechat, "
        "refunded_total_wechat, payments_ours FROM reconciliation_runs"
    )
    assert run == (4, agreed["total"] + 1 + missed["total"] + 888 + 1, 1, 50, 3)
    for kind in ("AMOUNT_MISMATCH", "MISSED_PAYMENT", "UNKNOWN_REFUND"):
        assert kind in output


def test_running_a_day_again_is_idempotent_and_keeps_resolutions(stack):
    auth = stack.login()
    pay(stack, auth)
    day = today().isoformat()
    stack.control(f"bills/{day}", kind="payment", total=100)
    stack.control(f"bills/{day}", kind="refund", refund=30)
    reconcile(stack)
    first = stack.query("SELECT id, kind FROM bill_differences ORDER BY id")
    assert [kind for _, kind in first] == ["UNKNOWN_PAYMENT", "UNKNOWN_REFUND"]
    diff_id = first[0][0]
    output = stack.cli(
        "bills", "resolve", str(diff_id), "--note", "refunded by hand", "--by", "alice"
    )
    assert "resolved by alice" in output
    reconcile(stack)
    reconcile(stack)
    assert stack.query("SELECT id, kind FROM bill_differences ORDER BY id") == first
    assert stack.query(
        "SELECT resolved_by, note FROM bill_differences WHERE id = :i", i=diff_id
    ) == [("alice", "refunded by hand")]
    assert stack.query("SELECT count(*), min(status) FROM reconciliation_runs") == [
        (1, "DIFFERENCES")
    ]
    # Resolving the last one makes the day clean; a second resolution is refused.
    stack.cli("bills", "resolve", str(first[1][0]), "--note", "known test refund")
    assert stack.query("SELECT status FROM reconciliation_runs") == [("CLEAN",)]
    with stack.app.app_context():
        with pytest.raises(DomainError) as error:
            bills.resolve_difference(diff_id, "bob", "again")
        assert error.value.code == "ALREADY_RESOLVED"
        with pytest.raises(DomainError) as error:
            bills.resolve_difference(first[1][0] + 100, "bob", "x")
        assert error.value.code == "DIFFERENCE_NOT_FOUND"
        with pytest.raises(DomainError) as error:
            bills.resolve_difference(diff_id, "bob", "  ")
        assert error.value.code == "NOTE_REQUIRED"


def test_a_payment_just_before_midnight_is_found_in_the_next_days_bill(stack):
    auth = stack.login()
    order = pay(stack, auth)
    # We recorded it at 23:59:59 yesterday; WeChat's bill has it today.
    midnight = datetime.combine(today(), time(0), tzinfo=CHINA)
    with stack.app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(paid_at=(midnight - timedelta(seconds=1)).astimezone(UTC))
        )
        db.session.commit()
    output = reconcile(stack, today() - timedelta(days=1))
    assert differences(stack) == []
    assert stack.query(
        "SELECT status, payments_ours, payments_wechat FROM reconciliation_runs"
    ) == [("NO_BILL", 1, 0)]
    assert "no differences" in output


def test_a_late_payment_flagged_yesterday_is_cleared_by_todays_bill(stack):
    order = pay(stack, stack.login())
    midnight = datetime.combine(today(), time(0), tzinfo=CHINA)
    with stack.app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(paid_at=(midnight - timedelta(seconds=1)).astimezone(UTC))
        )
        db.session.commit()
    # Yesterday's run, while today's bill is not published: yesterday's, the day before's
    # and today's bill all answer "no bill".
    stack.control(
        "faults",
        kind="api",
        path="/v3/bill/tradebill",
        status=400,
        code="NO_STATEMENT_EXIST",
        times=3,
    )
    reconcile(stack, today() - timedelta(days=1))
    assert differences(stack) == [("PAID_NOT_IN_BILL", order["out_trade_no"], False)]
    reconcile(stack)  # today's bill has it
    assert differences(stack) == [("PAID_NOT_IN_BILL", order["out_trade_no"], True)]
    assert stack.query("SELECT resolved_by, note FROM bill_differences") == [
        ("reconcile", f"found in the bill of {today()}")
    ]
    assert stack.query("SELECT status FROM reconciliation_runs ORDER BY day") == [
        ("NO_BILL",),
        ("CLEAN",),
    ]


def test_a_day_without_transactions_is_a_normal_outcome(stack):
    output = reconcile(stack, today() - timedelta(days=5))
    assert "NO_BILL" in output and "no differences" in output
    assert stack.query("SELECT status, bill_rows, trade_bill_sha1 FROM reconciliation_runs") == [
        ("NO_BILL", 0, None)
    ]


def test_a_bill_that_does_not_match_its_hash_is_refused_and_nothing_kept(stack):
    auth = stack.login()
    pay(stack, auth)
    # A genuine download URL, announced with a SHA1 that is not the file's.
    merchant = Merchant(stack.sandbox, stack.settings)
    path = f"/v3/bill/tradebill?bill_date={today().isoformat()}&bill_type=ALL&tar_type=GZIP"
    real = merchant.request("GET", path).json()
    stack.control(
        "faults",
        kind="api",
        path="/v3/bill/tradebill",
        status=200,
        body={**real, "hash_value": "0" * 40},
    )
    with stack.app.app_context():
        result = stack.app.test_cli_runner().invoke(
            args=["bills", "reconcile", "--date", today().isoformat()]
        )
    assert result.exit_code == 1
    assert "BILL_HASH_MISMATCH" in result.output and "nothing kept" in result.output
    assert stack.query(
        "SELECT status, trade_bill_sha1, bill_rows, message FROM reconciliation_runs"
    ) == [
        (
            "FAILED",
            None,
            0,
            "BILL_HASH_MISMATCH: bill file does not match the SHA1 WeChat announced",
        )
    ]
    assert stack.query("SELECT count(*) FROM bill_differences") == [(0,)]
    assert "CLEAN" in reconcile(stack)  # the next download is sound


def test_a_bill_not_ready_yet_asks_to_try_later(stack):
    stack.control(
        "faults",
        kind="api",
        path="/v3/bill/tradebill",
        status=400,
        code="STATEMENT_CREATING",
        message="账单生成中",
    )
    with stack.app.app_context():
        result = stack.app.test_cli_runner().invoke(args=["bills", "reconcile"])
    assert result.exit_code == 75 and "not ready" in result.output
    assert stack.query("SELECT count(*) FROM reconciliation_runs") == [(0,)]


def test_console_functions_list_runs_differences_and_the_bill_as_csv(stack):
    auth = stack.login()
    order = pay(stack, auth)
    stack.control(f"bills/{today().isoformat()}", kind="payment", total=5)
    reconcile(stack)
    with stack.app.app_context():
        [run] = bills.list_runs()
        assert run.day == today() and run.status == ReconciliationRun.DIFFERENCES
        [diff] = bills.run_differences(run.id)
        assert bills.open_differences() == [diff]
        assert diff.kind == bills.UNKNOWN_PAYMENT
        text = bills.bill_csv(run.id)
        assert text.startswith("\ufeff交易时间,") and "`" not in text
        assert order["out_trade_no"] in text and text.count("\r\n") == 5
        with pytest.raises(DomainError):
            bills.get_run(run.id + 1)


def downloaded(stack, *days):
    """Each day's trade bill, downloaded through the app's own gateway."""
    with stack.app.app_context():
        gateway = stack.app.extensions["wechatpay"]
        return [gateway.download_trade_bill(day) for day in days]


def test_v2_downloadbill_against_the_simulator(make_stack, sign_type):
    stack = make_stack(WECHATPAY_API_VERSION="v2", WECHATPAY_V2_SIGN_TYPE=sign_type)
    order = pay(stack, stack.login())
    raw, none = downloaded(stack, today(), today() - timedelta(days=3))
    assert none is None
    # WeChat's v2 layout: BOM, CRLF, no line end after the summary.
    assert raw.startswith(b"\xef\xbb\xbf\xe4\xba\xa4") and b"\r\n" in raw
    assert not raw.endswith(b"\n")
    bill = parse_bill(raw)
    bills.check_trade_summary(bill)
    assert [row["商户订单号"] for row in bill.rows] == [order["out_trade_no"]]
    output = reconcile(stack)
    # The fund flow bill too: HMAC-SHA256 over mutual TLS whatever the merchant's sign type.
    assert "CLEAN" in output and "not checked" not in output


def test_the_simulators_v3_files_are_laid_out_as_wechats(stack):
    order = pay(stack, stack.login())
    [trade] = downloaded(stack, today())
    with stack.app.app_context():
        fund = stack.app.extensions["wechatpay"].download_fund_flow_bill(today())
    for raw in (trade, fund):
        # WeChat's v3 layout (fixtures/README.md): BOM, CRLF, a line end after the summary too.
        assert raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\r\n")
        assert raw.count(b"\n") == raw.count(b"\r\n") and b"\r\r" not in raw
    assert trade.split(b"\r\n")[0] == V3_BILL.split(b"\r\n")[0]  # the real bill's header
    flow = parse_bill(fund)
    bills.check_fund_flow_summary(flow)
    assert (
        flow.rows[0]["收支类型"] == "收入"
        and to_fen(flow.rows[0]["收支金额(元)"]) == order["total"]
    )


# --- refunds ---------------------------------------------------------------------------------


def refund(stack, order, amount):
    """A refund through the backend (the refund CLI); its out_refund_no."""
    stack.cli("refund", str(order["id"]), "--amount", str(amount), "--reason", "test")
    return stack.query("SELECT out_refund_no FROM refunds ORDER BY id DESC")[0][0]


def refund_status(stack, out_refund_no):
    return stack.query("SELECT status FROM refunds WHERE out_refund_no = :n", n=out_refund_no)[0][0]


def test_refunds_that_agree_are_clean_and_counted(stack):
    order = pay(stack, stack.login())
    first = refund(stack, order, 300)
    wait_for(lambda: refund_status(stack, first) == "SUCCESS")
    output = reconcile(stack)
    assert "CLEAN" in output, output
    assert stack.query(
        "SELECT refunds_wechat, refunded_total_wechat, refunds_ours, "
        "refunded_total_ours FROM reconciliation_runs"
    ) == [(1, 300, 1, 300)]


def test_refund_differences_are_found_and_a_lagging_status_is_synced(stack):
    order = pay(stack, stack.login())
    # WeChat settles a refund whose notification is lost: ours stays PROCESSING.
    stack.control("faults", kind="refund", status="PROCESSING")
    lagging = refund(stack, order, 200)
    stack.control("faults", kind="notify", action="drop", out_trade_no=order["out_trade_no"])
    stack.control(f"refunds/{lagging}", status="SUCCESS")
    assert refund_status(stack, lagging) == "PROCESSING"
    # A refund whose amount we recorded differently, and a refund only we have.
    settled = refund(stack, order, 100)
    wait_for(lambda: refund_status(stack, settled) == "SUCCESS")
    with stack.app.app_context():
        db.session.execute(
            db.update(Refund).where(Refund.out_refund_no == settled).values(amount=99)
        )
        db.session.add(
            Refund(
                order_id=order["id"],
                out_refund_no="ONLYOURS1",
                amount=50,
                requested_by="t",
                approved_by="t",
                status=Refund.SUCCESS,
                succeeded_at=utcnow(),
            )
        )
        db.session.commit()
    output = reconcile(stack)
    assert differences(stack) == [
        ("REFUND_AMOUNT_MISMATCH", order["out_trade_no"], False),
        ("REFUND_NOT_IN_BILL", order["out_trade_no"], False),
        ("REFUND_STATUS_MISMATCH", order["out_trade_no"], False),
    ]
    assert refund_status(stack, lagging) == "SUCCESS"  # applied through the query path
    [(ours, wechat, detail)] = stack.query(
        "SELECT ours, wechat, detail FROM bill_differences WHERE kind = 'REFUND_STATUS_MISMATCH'"
    )
    assert ours.startswith("PROCESSING 200") and wechat.startswith("SUCCESS 200")
    assert "applied" in detail
    assert "REFUND_NOT_IN_BILL" in output
    # The next run no longer sees the status difference: it resolves itself.
    reconcile(stack)
    assert ("REFUND_STATUS_MISMATCH", order["out_trade_no"], True) in differences(stack)


def test_a_pending_refund_in_the_bill_is_queried_not_sent_again(stack):
    order = pay(stack, stack.login())
    sent = refund(stack, order, 300)
    wait_for(lambda: refund_status(stack, sent) == "SUCCESS")
    # WeChat has it, but our row still says its answer never came.
    with stack.app.app_context():
        db.session.execute(
            db.update(Refund).where(Refund.out_refund_no == sent).values(status=Refund.PENDING)
        )
        db.session.commit()
    applies = stack.query("SELECT count(*) FROM payment_events WHERE source = 'apply'")
    reconcile(stack)
    assert refund_status(stack, sent) == "SUCCESS"
    assert stack.query("SELECT count(*) FROM payment_events WHERE source = 'apply'") == applies
    assert stack.query(
        "SELECT count(*) FROM payment_events WHERE source = 'query' "
        "AND dedupe_key LIKE 'refund-query:%'"
    ) == [(1,)]


def test_a_payment_under_another_trade_type_is_a_difference_until_it_agrees(stack):
    auth = stack.login()
    agreed, other = pay(stack, auth), pay(stack, auth)
    # The bill says JSAPI (the mini program's); ours is recorded as a QR code order.
    set_trade_type(stack, other["id"], "NATIVE")
    assert "DIFFERENCES" in reconcile(stack)
    assert differences(stack) == [("TRADE_TYPE_MISMATCH", other["out_trade_no"], False)]
    [(ours, wechat, detail)] = stack.query("SELECT ours, wechat, detail FROM bill_differences")
    assert ours == "PAID NATIVE" and wechat.startswith(f"JSAPI paid {other['total']} fen")
    assert detail == "the order was left as it is"
    assert agreed["out_trade_no"] not in str(differences(stack))
    # Corrected, a later run no longer sees it and resolves it.
    set_trade_type(stack, other["id"], "JSAPI")
    assert "CLEAN" in reconcile(stack)
    assert differences(stack) == [("TRADE_TYPE_MISMATCH", other["out_trade_no"], True)]


def set_trade_type(stack, order_id, trade_type):
    with stack.app.app_context():
        db.session.execute(
            db.update(Order).where(Order.id == order_id).values(trade_type=trade_type)
        )
        db.session.commit()
