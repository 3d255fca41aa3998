"""The simulator's own endpoints under /sandbox/...: the cashier, faults, inspection, reset.

These do not exist at WeChat; they let a developer or a test play the user and the network.
Errors use the backend's shape ``{"error": {"code", "message"}}``. One module per subject:
``cashier`` (the user paying), ``faults``, ``orders`` (orders and their refunds as the
simulator holds them), ``bills`` (disagreements in a day's bill), ``weixin`` (the phone's
``wx.login`` codes, the user confirming receipt, the mini program's tokens and shipping
settings), ``simulator`` (health, the delivery log, keys, reset).

A control names an order by its out_trade_no (a refund by its out_refund_no), unique within one
merchant only: should several merchants use the number, it answers 409 MCHID_REQUIRED unless
it names the merchant too, ``?mchid=`` when the number is in the path, ``"mchid"`` when it is
in the body (POST /sandbox/pay, POST /sandbox/shipping/confirm).

Cashier
    POST /sandbox/pay  {"pay_params" | "prepay_id" | "out_trade_no", "action": "pay" | "cancel"}
        -> 200 {"out_trade_no", "trade_state", "transaction_id"?, "event_id"?}
        Plays the user at WeChat's cashier. "pay_params" is the object the mini program hands
        to wx.requestPayment ({timeStamp, nonceStr, package, signType, paySign}); its paySign is
        checked as WeChat's client checks it (v3 RSA over appId, timeStamp, nonceStr, package
        with the merchant's certificate; v2 MD5/HMAC-SHA256 with the API key), and a wrong one
        fails like wx.requestPayment: 400 PAYSIGN_INVALID with "errMsg":
        "requestPayment:fail ...". "prepay_id" and "out_trade_no" skip that check (they play
        a user who pays some other way, e.g. a script or another device). "pay" marks the
        order SUCCESS and sends the payment notification (by the order's api_version) with
        retries until acknowledged;
        "cancel" leaves it NOTPAY and sends nothing. 404 PREPAY_NOT_FOUND, 400 PREPAY_EXPIRED
        (prepay_id older than 2 h), ORDER_EXPIRED (past time_expire), ORDER_CLOSED, ORDERPAID.

Faults: POST /sandbox/faults with one fault object or {"faults": [...]}; GET lists the armed
ones; DELETE disarms all. Every fault has "times" (default 1): how many requests or
notifications it affects before it disarms itself.
    {"kind": "api", "path": "/v3/pay/transactions/jsapi", "method": "POST"?,
     "status": 500?, "code": "SYSTEM_ERROR"?, "message": "..."?, "body": {...}?, "delay": 0?,
     "port": 8001?, "reset": false?}
        Matches requests whose path starts with "path" (and the method, and the port the
        request came in on, if given: with ``--backup-port`` one simulator serves WeChat's
        primary and backup domains, and "port" faults one of them). With "reset": true the
        connection is closed after the request arrived, without an answer: the client cannot
        tell whether it was processed (to make a base unreachable instead, stop it). With
        "delay" it first sleeps that many seconds (provoke client timeouts); with "status" it
        then answers that status instead of the real endpoint: "body" verbatim if given, else
        {"code", "message"} for /v3, {"errcode": int(code), "errmsg"} for /sns (give status
        200, as WeChat does), and for v2 paths a signed business error (return_code SUCCESS,
        result_code FAIL, err_code = "code", e.g. "SYSTEMERROR") or, without "code", a plain
        return_code FAIL. Without "status" the real endpoint answers after the delay.
    {"kind": "refund", "status": "PROCESSING"|"ABNORMAL"|"CLOSED", "out_trade_no"?}
        The next v3 refund ends in that status instead of SUCCESS; a PROCESSING one waits
        for POST /sandbox/refunds/<out_refund_no> {"status": "SUCCESS"|"ABNORMAL"|"CLOSED"}.
    {"kind": "notify", "action": ..., "out_trade_no": "..."?}   applies to the next
    payment notification (of that order, if given):
        "drop"        never deliver it (logged with error "dropped")
        "duplicate"   deliver "copies" (default 2) copies concurrently, each retried on its own
        "delay"       wait "seconds" before the first attempt
        "signtest"    first send one probe whose Wechatpay-Signature starts with
                      WECHATPAY/SIGNTEST/ (a merchant must reject it), then the real one
        "tamper"      first send one probe whose body was changed after signing, then the real
                      one. Combine with "drop" to deliver only the bad copy.
        Notification faults apply to refund notifications too (matched by out_trade_no).

Inspection and helpers
    GET  /sandbox/health                     -> {"ok": true, "appid", "mchid", "key_mode",
                                                 "public_key_mode"}
    GET  /sandbox/orders                     -> {"orders": [...]}
    GET  /sandbox/orders/<out_trade_no>      -> {"order": {...}} (404 ORDER_NOT_FOUND)
    POST /sandbox/orders/<out_trade_no>/expire  time_expire passes now: unpayable, closable
    GET  /sandbox/notifications[?out_trade_no=]  -> {"notifications": [attempt...]}, each
         {"url", "event_id", "out_trade_no", "attempt", "copy", "status", "error",
          "acknowledged", "fault", "time"}
    POST /sandbox/notify/<out_trade_no>      (re)send the payment notification of a paid order
    POST /sandbox/refunds/<out_refund_no>    settle a PROCESSING refund (see refund faults)
    POST /sandbox/bills/<YYYY-MM-DD>         make that day's bills disagree with the backend:
         {"kind": "payment", "total": fen, "out_trade_no"?}  a payment nobody ordered
         {"kind": "amount", "out_trade_no": ..., "total": fen}  that order's row shows another
                                                                amount
         {"kind": "refund", "refund": fen, "out_trade_no"?, "out_refund_no"?}  a refund only
                                                                WeChat knows
         -> 201 {"change": {...}} (the generated numbers); DELETE forgets the day's changes
    POST /sandbox/counter/recall             {"times": n}: the next n payment-code reverses
                                             answer "call again" (v2 recall=Y, v3 500)
    POST /sandbox/platform-certificate/rotate  sign with a new platform certificate from now on
    POST /sandbox/reset                      forget all state and faults, stop pending retries
"""
