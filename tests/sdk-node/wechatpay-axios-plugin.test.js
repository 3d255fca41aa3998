// A third-party Node SDK, wechatpay-axios-plugin, against the simulator, set up exactly as its
// README says for each kind of merchant. The only change from production is baseURL.
// Public-key mode: certs = {PUB_KEY_ID_...: public key}; certificate mode: certs =
// {platform serial: certificate}. Everything runs over real HTTP against scripts/devstack.py.
const { after, before, describe, test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')

const { Wechatpay, Rsa, Aes, Formatter } = require('wechatpay-axios-plugin')
const devstack = require('../miniprogram/devstack')

// A merchant's notify_url: records each notification and answers 204.
function startReceiver() {
  const received = []
  const waiting = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const note = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }
      received.push(note)
      while (waiting.length) waiting.shift()(note)
      res.statusCode = 204
      res.end()
    })
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: 'http://127.0.0.1:' + server.address().port + '/notify',
        next: () => (received.length ? Promise.resolve(received.shift()) : new Promise((r) => waiting.push(r))),
        close: () => new Promise((r) => server.close(r))
      })
    })
  })
}

function beijingToday() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10)
}

function platformSerial(certificatePem) {
  return new crypto.X509Certificate(certificatePem).serialNumber.toUpperCase()
}

// The SDK's "certs": what its README says to configure for each kind of merchant.
function certsFor(env, keyMode) {
  if (keyMode === 'public-key') {
    return { [env.WECHATPAY_PUBLIC_KEY_ID]: fs.readFileSync(env.WECHATPAY_PUBLIC_KEY) }
  }
  const certificate = fs.readFileSync(env.SANDBOX_PLATFORM_CERT, 'utf8')
  return { [platformSerial(certificate)]: certificate }
}

for (const keyMode of ['public-key', 'certificate']) {
  devstack.describeWithDevstack('wechatpay-axios-plugin, ' + keyMode + ' merchant', () => {
    let stack, receiver, wxpay, env, certs

    before(async () => {
      stack = await devstack.start({ keyMode })
      env = stack.env
      receiver = await startReceiver()
      certs = certsFor(env, keyMode)
      wxpay = new Wechatpay({
        baseURL: stack.sandbox + '/', // the only change from production
        mchid: env.WECHATPAY_MCHID,
        serial: env.WECHATPAY_CERT_SERIAL,
        privateKey: fs.readFileSync(env.WECHATPAY_PRIVATE_KEY),
        certs,
        // APIv2, as its README configures it: the v2 key, and the merchant's certificate for
        // /secapi/ (the simulator checks it only over HTTPS; this stack is plain HTTP)
        secret: env.WECHATPAY_API_KEY,
        merchant: { cert: fs.readFileSync(env.WECHATPAY_CERT), key: fs.readFileSync(env.WECHATPAY_PRIVATE_KEY) }
      })
    })

    after(async () => {
      if (receiver) await receiver.close()
      if (stack) await stack.stop()
    })

    const outTradeNo = 'NODESDK' + keyMode.replace('-', '').toUpperCase() + Date.now()

    function placeOrder(number) {
      return wxpay.v3.pay.transactions.jsapi.post({
        appid: env.WECHAT_APPID,
        mchid: env.WECHATPAY_MCHID,
        description: 'Node SDK 测试',
        out_trade_no: number,
        notify_url: receiver.url,
        amount: { total: 120, currency: 'CNY' },
        payer: { openid: 'oNodeSdkUser0000000000000001' }
      })
    }

    test('order, query, close', async () => {
      const number = outTradeNo + 'C'
      const { data: placed } = await placeOrder(number)
      assert.match(placed.prepay_id, /^wx/)
      const { data: queried, headers } = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
        params: { mchid: env.WECHATPAY_MCHID }, out_trade_no: number
      })
      assert.equal(queried.trade_state, 'NOTPAY')
      assert.ok(headers['wechatpay-serial'] in certs, 'signed with the configured key')
      const closed = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.close.post(
        { mchid: env.WECHATPAY_MCHID }, { out_trade_no: number })
      assert.equal(closed.status, 204) // a signed 204: the SDK verified it or it would have thrown
      const { data: after } = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
        params: { mchid: env.WECHATPAY_MCHID }, out_trade_no: number
      })
      assert.equal(after.trade_state, 'CLOSED')
    })

    test('payment code: codepay paid at once, a PIN walk-away reversed', async () => {
      const body = (number, authCode) => ({
        appid: env.WECHAT_APPID,
        mchid: env.WECHATPAY_MCHID,
        description: 'Node SDK 柜台',
        out_trade_no: number,
        payer: { auth_code: authCode },
        amount: { total: 300, currency: 'CNY' },
        scene_info: { device_ip: '127.0.0.1' }
      })
      const { data: paid } = await wxpay.v3.pay.transactions.codepay.post(body(outTradeNo + 'P', '134567890123456789'))
      assert.equal(paid.trade_state, 'SUCCESS')
      assert.equal(paid.trade_type, 'MICROPAY')
      // 1301 + 001: asks for the PIN and closes the dialog 0.1 s later without paying.
      const pin = await wxpay.v3.pay.transactions.codepay.post(body(outTradeNo + 'W', '130100100000000001'))
      assert.equal(pin.status, 202)
      assert.deepEqual(pin.data, { trade_state: 'USERPAYING' })
      await new Promise((resolve) => setTimeout(resolve, 200))
      const reversed = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.reverse.post(
        { appid: env.WECHAT_APPID, mchid: env.WECHATPAY_MCHID }, { out_trade_no: outTradeNo + 'W' })
      assert.equal(reversed.data.out_trade_no, outTradeNo + 'W')
      const { data: after } = await wxpay.v3.pay.transactions.outTradeNo.$out_trade_no$.get({
        params: { mchid: env.WECHATPAY_MCHID }, out_trade_no: outTradeNo + 'W'
      })
      assert.equal(after.trade_state, 'REVOKED')
    })

    test('payment code on v2: micropay paid at once, a PIN walk-away reversed', async () => {
      const number = 'NODEV2' + keyMode[0].toUpperCase() + Date.now() // v2: at most 32 characters
      const body = (number, authCode) => ({
        appid: env.WECHAT_APPID,
        mch_id: env.WECHATPAY_MCHID,
        body: 'Node SDK 柜台',
        out_trade_no: number,
        total_fee: 300,
        spbill_create_ip: '127.0.0.1',
        auth_code: authCode
      })
      // The SDK signs (MD5), adds nonce_str, and verifies the answer's sign.
      const { data: paid } = await wxpay.v2.pay.micropay.post(body(number + 'P', '134567890123456780'))
      assert.equal(paid.result_code, 'SUCCESS')
      assert.equal(paid.trade_type, 'MICROPAY')
      assert.equal(paid.total_fee, '300')
      // 1301 + 001: the PIN is asked (result_code FAIL, err_code USERPAYING: the SDK rejects a
      // FAIL) and the dialog closes 0.1 s later without paying.
      await assert.rejects(wxpay.v2.pay.micropay.post(body(number + 'W', '130100100000000002')), (error) => {
        assert.equal(error.response.data.err_code, 'USERPAYING')
        return true
      })
      await new Promise((resolve) => setTimeout(resolve, 200))
      const { data: reversed } = await wxpay.v2.secapi.pay.reverse.post(
        { appid: env.WECHAT_APPID, mch_id: env.WECHATPAY_MCHID, out_trade_no: number + 'W' },
        { security: true })
      assert.equal(reversed.result_code, 'SUCCESS')
      assert.equal(reversed.recall, 'N')
      const { data: after } = await wxpay.v2.pay.orderquery.post(
        { appid: env.WECHAT_APPID, mch_id: env.WECHATPAY_MCHID, out_trade_no: number + 'W' })
      assert.equal(after.trade_state, 'REVOKED')
    })

    test('pay with the SDK-signed pay params, verify the real notification, refund', async () => {
      const { data: placed } = await placeOrder(outTradeNo)
      // wx.requestPayment's parameters, signed the way the SDK's README shows (Rsa.sign).
      const params = {
        timeStamp: String(Formatter.timestamp()),
        nonceStr: Formatter.nonce(),
        package: 'prepay_id=' + placed.prepay_id,
        signType: 'RSA'
      }
      params.paySign = Rsa.sign(
        Formatter.joinedByLineFeed(env.WECHAT_APPID, params.timeStamp, params.nonceStr, params.package),
        fs.readFileSync(env.WECHATPAY_PRIVATE_KEY))
      const paid = await fetch(stack.sandbox + '/sandbox/pay', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pay_params: params, action: 'pay' })
      })
      assert.equal(paid.status, 200, await paid.clone().text())

      const note = await receiver.next()
      const serial = note.headers['wechatpay-serial']
      assert.ok(serial in certs, serial + ' is a key the merchant configured')
      const message = Formatter.response(note.headers['wechatpay-timestamp'], note.headers['wechatpay-nonce'], note.body)
      assert.ok(Rsa.verify(message, note.headers['wechatpay-signature'], Rsa.from(certs[serial], Rsa.KEY_TYPE_PUBLIC)))
      assert.ok(!Rsa.verify(message.replace('TRANSACTION', 'TRANSACTIOM'), note.headers['wechatpay-signature'],
        Rsa.from(certs[serial], Rsa.KEY_TYPE_PUBLIC)), 'a changed body does not verify')
      const { resource } = JSON.parse(note.body)
      const transaction = JSON.parse(Aes.AesGcm.decrypt(resource.ciphertext, env.WECHATPAY_APIV3_KEY,
        resource.nonce, resource.associated_data))
      assert.equal(transaction.out_trade_no, outTradeNo)
      assert.equal(transaction.trade_state, 'SUCCESS')
      assert.equal(transaction.amount.total, 120)

      const { data: refund } = await wxpay.v3.refund.domestic.refunds.post({
        out_trade_no: outTradeNo,
        out_refund_no: outTradeNo + 'R',
        amount: { refund: 20, total: 120, currency: 'CNY' }
      })
      assert.ok(['SUCCESS', 'PROCESSING'].includes(refund.status), refund.status)
      const { data: queried } = await wxpay.v3.refund.domestic.refunds.$out_refund_no$.get({
        out_refund_no: outTradeNo + 'R'
      })
      assert.equal(queried.amount.refund, 20)
    })

    test('bill download and parsing', async () => {
      const { data: bill } = await wxpay.v3.bill.tradebill.get({ params: { bill_date: beijingToday() } })
      const url = new URL(bill.download_url)
      const file = await wxpay.v3.billdownload.file.get({
        params: Object.fromEntries(url.searchParams), responseType: 'arraybuffer'
      })
      const bytes = Buffer.from(file.data)
      assert.equal(crypto.createHash('sha1').update(bytes).digest('hex'), bill.hash_value)
      // WeChat's v3 bill starts with a UTF-8 BOM and ends with CRLF (tests/bills/fixtures/README.md):
      // castCsvBill drops three bytes as the BOM and the empty string after the last line end, so
      // the header's first column keeps its first character and no row is lost.
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf])
      const { rows, summary } = Formatter.castCsvBill(bytes)
      const ours = rows.filter((row) => row['商户订单号'] === outTradeNo)
      assert.equal(ours.length, 2, 'the payment and the refund') // SUCCESS row and REFUND row
      assert.deepEqual(ours.map((row) => row['交易状态']).sort(), ['REFUND', 'SUCCESS'])
      assert.ok(rows.every((row) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(row['交易时间'])), JSON.stringify(rows[0]))
      assert.equal(summary['总交易单数'], String(rows.length), JSON.stringify(summary))
      assert.ok(!Object.values(summary).some((value) => value.endsWith('\r')), 'no CR left in a value')
    })

    test('platform certificate download, where the merchant has certificates', async () => {
      if (keyMode === 'public-key') {
        // What WeChat answers a merchant created today; the SDK surfaces it as an error.
        await assert.rejects(wxpay.v3.certificates.get(), (err) => {
          assert.equal(err.response.status, 404)
          assert.equal(err.response.data.code, 'RESOURCE_NOT_EXISTS')
          return true
        })
        return
      }
      const { data } = await wxpay.v3.certificates.get()
      const [item] = data.data
      const { ciphertext, nonce, associated_data: aad } = item.encrypt_certificate
      const pem = Aes.AesGcm.decrypt(ciphertext, env.WECHATPAY_APIV3_KEY, nonce, aad)
      assert.equal(platformSerial(pem), item.serial_no)
      assert.ok(item.serial_no in certs)
    })
  })
}

