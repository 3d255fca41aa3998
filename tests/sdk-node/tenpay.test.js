// A third-party Node SDK for API v2, tenpay (npm), against the simulator: its payment-code
// calls, micropay and reverse, then orderquery, set up as its README says. The SDK has no
// base-URL option: its endpoints are the instance's `urls`, rewritten here from WeChat's host
// to the simulator's (the only change from production). /secapi/ would present the pfx over
// HTTPS; the dev stack is plain HTTP, where the simulator does not ask for it.
const { after, before, test } = require('node:test')
const assert = require('node:assert/strict')

const Tenpay = require('tenpay')
const devstack = require('../miniprogram/devstack')

devstack.describeWithDevstack('tenpay (API v2), payment code', () => {
  let stack, env, api

  before(async () => {
    stack = await devstack.start({})
    env = stack.env
    api = new Tenpay({
      appid: env.WECHAT_APPID,
      mchid: env.WECHATPAY_MCHID,
      partnerKey: env.WECHATPAY_API_KEY,
      pfx: Buffer.alloc(0),
      spbill_create_ip: '127.0.0.1'
    })
    for (const name of Object.keys(api.urls)) {
      api.urls[name] = api.urls[name].replace('https://api.mch.weixin.qq.com', stack.sandbox)
    }
  })

  after(async () => {
    if (stack) await stack.stop()
  })

  test('micropay paid at once; a PIN walk-away reversed, then REVOKED', async () => {
    const number = 'TENPAY' + Date.now() // v2: at most 32 characters
    // The SDK signs (MD5), and checks the answer's appid, mch_id and sign.
    const paid = await api.micropay({
      out_trade_no: number + 'P',
      body: 'tenpay 柜台',
      total_fee: 300,
      auth_code: '134567890123456781'
    })
    assert.equal(paid.result_code, 'SUCCESS')
    assert.equal(paid.trade_type, 'MICROPAY')
    assert.equal(paid.total_fee, '300')
    // 1301 + 001: the PIN is asked (err_code USERPAYING; the SDK throws on a FAIL) and the
    // dialog closes 0.1 s later without paying.
    await assert.rejects(
      api.micropay({
        out_trade_no: number + 'W',
        body: 'tenpay 柜台',
        total_fee: 300,
        auth_code: '130100100000000003'
      }),
      /USERPAYING/
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    const reversed = await api.reverse({ out_trade_no: number + 'W' })
    assert.equal(reversed.result_code, 'SUCCESS')
    assert.equal(reversed.recall, 'N')
    const after = await api.orderQuery({ out_trade_no: number + 'W' })
    assert.equal(after.trade_state, 'REVOKED')
  })
})
