// The mini program's pages and helpers, run in Node against the REAL backend and WeChat
// simulator (scripts/devstack.py). Only the WeChat client is stood in for (wx-shim.js);
// every request is real HTTP.
const { before, after, beforeEach, test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const harness = require('./harness')
const devstack = require('./devstack')

const MP = harness.MINIPROGRAM
const config = require(path.join(MP, 'config.js'))
const auth = require(path.join(MP, 'utils/auth.js'))
const api = require(path.join(MP, 'utils/api.js'))
const pay = require(path.join(MP, 'utils/pay.js'))
const i18n = require(path.join(MP, 'i18n/index.js'))
const { formatFen } = require(path.join(MP, 'utils/money.js'))
const { localTime } = require(path.join(MP, 'utils/order-view.js'))

// Polling as the page does it, only faster: the simulator answers at once.
const FAST_POLL_MS = [100, 200, 400, 800, 1500, 3000]

// Everything the mini program printed, and every page opened: the token must appear in none.
const printed = []
for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  const original = console[level]
  console[level] = (...args) => {
    printed.push(args.map(String).join(' '))
    original.apply(console, args)
  }
}
const installs = []
const openedPages = []

// Most flows read the English screens; a phone in Chinese is the default (see the i18n tests).
function install(language) {
  const wx = harness.newInstall({ language: language || 'en' })
  installs.push(wx)
  return wx
}

async function open(route, query) {
  const page = await harness.openPage(route, query)
  openedPages.push(page)
  return page
}

async function openNavigated(wx) {
  const page = await harness.openNavigated(wx)
  openedPages.push(page)
  return page
}

// "POST /api/login" for each request the mini program made, in order.
function calls(wx) {
  return wx.requests.map((r) => r.method + ' ' + new URL(r.url).pathname)
}

function countCalls(wx, call) {
  return calls(wx).filter((c) => c === call).length
}

function assertShows(page, text) {
  const screen = harness.screenText(page)
  assert.ok(screen.includes(text), 'expected "' + text + '" on ' + page.route + ', screen: ' + screen)
}

function payStates(page) {
  return page.dataHistory.filter((changes) => 'payState' in changes).map((changes) => changes.payState)
}

devstack.describeWithDevstack('mini program against the dev stack', () => {
  let stack

  // The test plays WeChat's side: the user at the cashier, faults on the network.
  async function sandbox(pathname, body) {
    const response = await fetch(stack.sandbox + pathname, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const data = await response.json()
    assert.ok(response.ok, pathname + ' -> ' + response.status + ' ' + JSON.stringify(data))
    return data
  }

  async function notificationAcknowledged(outTradeNo) {
    for (let i = 0; i < 50; i++) {
      const { notifications } = await sandbox('/sandbox/notifications?out_trade_no=' + outTradeNo)
      if (notifications.some((n) => n.acknowledged)) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.fail('the backend did not acknowledge the payment notification of ' + outTradeNo)
  }

  async function catalogue() {
    const response = await fetch(stack.backend + '/api/products')
    return (await response.json()).products
  }

  function prepayIdOf(payParams) {
    return payParams.package.replace(/^prepay_id=/, '')
  }

  before(async () => {
    stack = await devstack.start()
  })

  after(async () => {
    // Close every page, as leaving the mini program would: an order page's expiry timer
    // would otherwise keep the test process alive.
    for (const page of openedPages) if (page.onUnload) page.onUnload()
    if (stack) await stack.stop()
  })

  beforeEach(() => {
    config.apiBaseUrl = stack.backend
    config.sandboxBaseUrl = stack.sandbox
    pay.pollDelaysMs = FAST_POLL_MS
  })

  test('login: a simulator code becomes a token stored with its expiry, reused until then', async () => {
    const wx = install()
    const token = await auth.getToken()

    assert.deepEqual(calls(wx), ['POST /sandbox/login-code', 'POST /api/login'])
    const openid = wx.getStorageSync('sandbox_openid')
    assert.match(openid, /^o[\w-]{27}$/)
    assert.deepEqual(wx.requests[0].sent, { openid })
    const saved = wx.getStorageSync('auth')
    assert.equal(saved.token, token)
    assert.ok(saved.expiresAt > Date.now() + 60 * 1000, 'expiry in the future')

    assert.equal(await auth.getToken(), token)
    assert.equal(wx.requests.length, 2, 'no second login while the token is valid')
  })

  test('concurrent first requests share one login', async () => {
    const wx = install()
    await Promise.all([api.listProducts(), api.listOrders(), api.listOrders()])
    assert.equal(countCalls(wx, 'POST /api/login'), 1)
  })

  test('product list: prices from fen, quantities, total, then checkout', async () => {
    const wx = install()
    const products = await catalogue()
    assert.ok(products.length >= 2, 'the dev stack seeds a catalogue')

    const page = await open('pages/products/index')
    assert.equal(page.data.state, 'ready')
    const screen = harness.screenText(page)
    for (const product of products) {
      assert.ok(screen.includes(product.name), product.name + ' shown')
      assert.ok(screen.includes(formatFen(product.price)), formatFen(product.price) + ' shown')
    }

    assert.equal(harness.tap(page, '-', 0), undefined, 'cannot go below zero: the button is disabled')
    await harness.tap(page, '+', 0)
    await harness.tap(page, '+', 0)
    await harness.tap(page, '+', 1)
    const total = 2 * products[0].price + products[1].price
    assert.equal(page.data.totalText, formatFen(total))
    assertShows(page, 'Total ' + formatFen(total))
    assertShows(page, 'Check out (3)')

    await harness.tap(page, 'Check out')
    assert.deepEqual(wx.navigations.pop(), {
      type: 'navigateTo',
      url: '/pages/checkout/index?cart=' + products[0].id + ':2,' + products[1].id + ':1'
    })
  })

  test('checkout pays through the simulator cashier and polls until the server says PAID', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: true })
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':3' })
    assert.equal(page.data.state, 'ready')
    assertShows(page, product.name + ' × 3')
    await harness.tap(page, 'Pay ' + formatFen(3 * product.price))

    assert.equal(page.data.payState, 'paid', harness.screenText(page))
    assert.deepEqual(payStates(page), ['creating', 'paying', 'confirming', 'paid'])
    assertShows(page, 'Payment received')
    assert.equal(wx.modals.length, 1, 'one confirm dialog stands in for the cashier')
    assert.equal(wx.payments.length, 0, 'wx.requestPayment is not used with the simulator')

    const created = wx.requests.find((r) => r.method === 'POST' && r.url.endsWith('/api/orders'))
    assert.equal(created.status, 201)
    const cashier = wx.requests.find((r) => r.url.endsWith('/sandbox/pay'))
    assert.deepEqual(cashier.sent, { pay_params: created.body.pay_params, action: 'pay' })
    const orderId = created.body.order.id
    assert.ok(countCalls(wx, 'GET /api/orders/' + orderId) >= 1, 'the page asked the server')

    const order = await api.getOrder(orderId)
    assert.equal(order.status, 'PAID')
    assert.equal(order.total, 3 * product.price)
    // The page shows both times; they must be the same clock (a paid_at 8 hours off is a bug).
    const paidAfterMs = Date.parse(order.paid_at) - Date.parse(order.created_at)
    assert.ok(paidAfterMs >= -2000 && paidAfterMs < 60 * 1000, 'created ' + order.created_at + ', paid ' + order.paid_at)

    await harness.tap(page, 'View order')
    const detail = await openNavigated(wx)
    const screen = harness.screenText(detail)
    assert.ok(screen.includes('Paid'), screen)
    assert.ok(screen.includes(formatFen(3 * product.price)), screen)
    assert.ok(!screen.includes('Pay ' + formatFen(3 * product.price)), 'no pay button on a paid order')
  })

  test('polling converges through the server even when the notification is lost', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: true })
    await sandbox('/sandbox/faults', { kind: 'notify', action: 'drop' })
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(page, 'Pay')

    assert.equal(page.data.payState, 'paid', harness.screenText(page))
    const outTradeNo = page.data.order.outTradeNo
    const { notifications } = await sandbox('/sandbox/notifications?out_trade_no=' + outTradeNo)
    assert.ok(notifications.length > 0 && notifications.every((n) => !n.acknowledged), 'nothing was delivered')
  })

  test('cancel at the cashier: "payment cancelled", order stays payable, paying later works', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: false })
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'cancelled')
    assertShows(page, 'Payment cancelled')
    const orderId = page.data.order.id
    assert.equal((await api.getOrder(orderId)).status, 'NOTPAY')

    await harness.tap(page, 'View order')
    const detail = await openNavigated(wx)
    assertShows(detail, 'Awaiting payment')

    wx.script.showModal = () => ({ confirm: true })
    await harness.tap(detail, 'Pay')
    assert.equal(detail.data.payState, 'paid', harness.screenText(detail))
    assert.equal(countCalls(wx, 'POST /api/orders/' + orderId + '/pay'), 1, 'fresh pay_params from the server')
    assert.equal(detail.data.order.status, 'PAID')
    assert.equal((await api.listOrders()).length, 1)
  })

  test('a wrong paySign fails at the simulator cashier as wx.requestPayment fails', async () => {
    const wx = install()
    const [product] = await catalogue()
    const checkout = await open('pages/checkout/index', { cart: product.id + ':1' })
    wx.script.showModal = () => ({ confirm: false }) // leave the order unpaid
    await harness.tap(checkout, 'Pay')
    const created = wx.requests.find((r) => r.method === 'POST' && r.url.endsWith('/api/orders'))
    const params = created.body.pay_params

    wx.script.showModal = () => ({ confirm: true })
    const tampered = Object.assign({}, params, { nonceStr: params.nonceStr + 'x' })
    await assert.rejects(pay.requestPayment(tampered), (err) => {
      assert.equal(err.message, '支付验证签名失败')
      assert.equal(err.cancelled, false)
      return true
    })
    const { order } = await sandbox('/sandbox/orders/' + checkout.data.order.outTradeNo)
    assert.equal(order.trade_state, 'NOTPAY')
    assert.deepEqual(await pay.requestPayment(params), { errMsg: 'requestPayment:ok' })
  })

  test('an order paid elsewhere meanwhile shows as paid when Pay is tapped', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: false })
    const [product] = await catalogue()
    const checkout = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(checkout, 'Pay')
    const { outTradeNo, id: orderId } = checkout.data.order
    const detail = await open('pages/order/index', { id: String(orderId) })
    assertShows(detail, 'Awaiting payment')

    // Paid on another device; the backend hears of it by notification.
    await sandbox('/sandbox/pay', { out_trade_no: outTradeNo, action: 'pay' })
    await notificationAcknowledged(outTradeNo)

    await harness.tap(detail, 'Pay')
    assert.equal(detail.data.payState, 'paid', harness.screenText(detail))
    assert.equal(countCalls(wx, 'POST /api/orders/' + orderId + '/pay'), 1)
    assert.equal(wx.modals.length, 1, 'no cashier for an order that is already paid')
    assertShows(detail, 'Payment received')
  })

  test('without the simulator, wx.requestPayment gets exactly the server pay_params', async () => {
    const wx = install()
    await auth.getToken() // logged in through the simulator; WeChat's cashier from here on
    config.sandboxBaseUrl = ''
    wx.script.requestPayment = async (params) => {
      await sandbox('/sandbox/pay', { prepay_id: prepayIdOf(params), action: 'pay' }) // the user pays
      return 'requestPayment:ok'
    }
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':2' })
    await harness.tap(page, 'Pay')

    assert.equal(page.data.payState, 'paid', harness.screenText(page))
    const created = wx.requests.find((r) => r.method === 'POST' && r.url.endsWith('/api/orders'))
    assert.deepEqual(wx.payments, [created.body.pay_params])
    assert.equal(wx.modals.length, 0)
  })

  test('requestPayment "fail cancel" and other failures: cancelled vs failed, no WeChat reason shown', async () => {
    const wx = install()
    await auth.getToken()
    config.sandboxBaseUrl = ''
    const [product] = await catalogue()
    const page = await open('pages/checkout/index', { cart: product.id + ':1' })

    wx.script.requestPayment = async () => 'requestPayment:fail cancel'
    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'cancelled')
    assertShows(page, 'Payment cancelled')

    wx.script.requestPayment = async () => 'requestPayment:fail insufficient balance'
    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'failed')
    assertShows(page, 'The payment did not go through')
    assert.ok(!harness.screenText(page).includes('insufficient balance'), 'WeChat\'s errMsg is for developers')

    const orders = await api.listOrders()
    assert.equal(orders.length, 1, 'paying again reuses the order')
    assert.equal(orders[0].status, 'NOTPAY')
    assert.equal(wx.payments.length, 2)
  })

  test('no confirmation within the polling budget: "still confirming", then Refresh', async () => {
    const wx = install()
    await auth.getToken()
    config.sandboxBaseUrl = ''
    pay.pollDelaysMs = [50, 50, 50]
    wx.script.requestPayment = async () => 'requestPayment:ok' // WeChat said ok; nothing paid yet
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'unconfirmed')
    const screen = harness.screenText(page)
    assert.ok(screen.includes('Still confirming'), screen)
    assert.ok(!screen.includes('Pay ¥'), 'no second payment while the first is unconfirmed')

    // The payment completes late; its notification reaches the backend.
    const outTradeNo = page.data.order.outTradeNo
    await sandbox('/sandbox/pay', { prepay_id: prepayIdOf(wx.payments[0]), action: 'pay' })
    await notificationAcknowledged(outTradeNo)

    await harness.tap(page, 'Refresh')
    assert.equal(page.data.payState, 'paid', harness.screenText(page))
  })

  test('leaving the page stops the polling', async () => {
    const wx = install()
    await auth.getToken()
    config.sandboxBaseUrl = ''
    pay.pollDelaysMs = [300, 300, 300]
    wx.script.requestPayment = async () => 'requestPayment:ok'
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':1' })
    const paying = harness.tap(page, 'Pay')
    while (page.data.payState !== 'confirming') await new Promise((resolve) => setImmediate(resolve))
    page.onUnload()
    await paying

    assert.equal(page.data.payState, 'confirming', 'no outcome is shown on a closed page')
    assert.equal(countCalls(wx, 'GET /api/orders/' + page.data.order.id), 0)
  })

  test('a 401 logs in again once and retries (stored token corrupted)', async () => {
    const wx = install()
    await api.listOrders()
    wx.setStorageSync('auth', { token: 'corrupted', expiresAt: Date.now() + 3600 * 1000 })
    const loginsBefore = countCalls(wx, 'POST /api/login')

    const page = await open('pages/orders/index')

    assert.equal(page.data.state, 'empty', harness.screenText(page))
    assert.equal(countCalls(wx, 'POST /api/login'), loginsBefore + 1)
    const retried = wx.requests.filter((r) => r.url.endsWith('/api/orders')).slice(-2)
    assert.deepEqual(retried.map((r) => r.status), [401, 200])
    assert.notEqual(wx.getStorageSync('auth').token, 'corrupted')
  })

  test('the simulated user is stable per install: a new login sees the same orders', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: false })
    const [product] = await catalogue()
    const page = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(page, 'Pay')

    auth.logout()
    const orders = await open('pages/orders/index')
    assert.equal(countCalls(wx, 'POST /api/login'), 2)
    assert.equal(orders.data.orders.length, 1)
    assertShows(orders, 'Awaiting payment')
  })

  test('empty order list has its own state', async () => {
    install()
    const page = await open('pages/orders/index')
    assert.equal(page.data.state, 'empty')
    assertShows(page, 'No orders yet.')
    assertShows(page, 'Browse products')
  })

  test('backend unreachable: a friendly error with a retry that recovers', async () => {
    install()
    config.apiBaseUrl = 'http://127.0.0.1:' + (await devstack.freePort())

    const page = await open('pages/products/index')
    assert.equal(page.data.state, 'error')
    const screen = harness.screenText(page)
    assert.ok(screen.includes('Cannot reach the server'), screen)
    assert.ok(!/ECONNREFUSED|request:fail/.test(screen), 'no raw error text')

    config.apiBaseUrl = stack.backend
    await harness.tap(page, 'Try again')
    assert.equal(page.data.state, 'ready')
  })

  test('WeChat Pay error while ordering: a user text, and the retry pays the same order', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: true })
    await sandbox('/sandbox/faults', { kind: 'api', path: '/v3/pay/transactions/jsapi', status: 500, code: 'SYSTEM_ERROR' })
    const [product] = await catalogue()

    const page = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'error')
    const created = wx.requests.find((r) => r.method === 'POST' && r.url.endsWith('/api/orders'))
    assert.ok(created.status >= 500, 'the backend answered ' + created.status)
    assertShows(page, 'WeChat Pay cannot take this order right now')
    assert.ok(!harness.screenText(page).includes('refused'), 'not the server\'s developer message')

    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'paid', harness.screenText(page))
    assert.equal(countCalls(wx, 'POST /api/orders'), 1)
    assert.equal((await api.listOrders()).length, 1)
  })

  test('the answer to "create order" is lost: the next tap gets the same order, not a second', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: true })
    let lost = 0
    wx.script.loseAnswer = (record) =>
      record.method === 'POST' && record.url.endsWith('/api/orders') && lost++ === 0
    const [product] = await catalogue()
    const page = await open('pages/checkout/index', { cart: product.id + ':1' })

    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'error')
    assert.equal((await api.listOrders()).length, 1, 'the server did create the order')

    await harness.tap(page, 'Pay')
    assert.equal(page.data.payState, 'paid', harness.screenText(page))
    assert.equal(countCalls(wx, 'POST /api/orders'), 2)
    const orders = await api.listOrders()
    assert.equal(orders.length, 1)
    assert.equal(orders[0].status, 'PAID')
  })

  test('double tap on Pay creates one order', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: true })
    const [product] = await catalogue()
    const page = await open('pages/checkout/index', { cart: product.id + ':1' })

    // Both taps land before the first render could disable the button.
    await Promise.all([page.onPay(), page.onPay()])

    assert.equal(countCalls(wx, 'POST /api/orders'), 1)
    assert.equal(wx.modals.length, 1)
    const orders = await api.listOrders()
    assert.equal(orders.length, 1)
    assert.equal(orders[0].status, 'PAID')
  })

  // ---- issue 15: Chinese first, honest about time and state --------------------------

  test('a phone in Chinese gets the Chinese shop; one in English the English one', async () => {
    const [product] = await catalogue()
    const screens = {}
    for (const language of ['zh_CN', 'en']) {
      const wx = install(language)
      const page = await open('pages/products/index')
      await harness.tap(page, '+', 0)
      screens[language] = harness.screenText(page)
      assert.equal(wx.titles[0], { zh_CN: '商品', en: 'Products' }[language])
    }
    assert.ok(screens.zh_CN.includes('合计 ' + formatFen(product.price)), screens.zh_CN)
    assert.ok(screens.zh_CN.includes('去结算 (1)'), screens.zh_CN)
    assert.ok(screens.zh_CN.includes('我的订单'), screens.zh_CN)
    assert.ok(screens.en.includes('Check out (1)'), screens.en)
    assert.ok(!/[A-Za-z]{4,}/.test(screens.zh_CN.replace(/¥[\d.]+/g, '')), 'no English on the Chinese screen: ' + screens.zh_CN)
  })

  test('after paying, the product list is empty again; pull-to-refresh keeps chosen quantities', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: true })
    const products = await open('pages/products/index')
    await harness.tap(products, '+', 0)
    await harness.tap(products, '+', 1)
    await harness.tap(products, '+', 1)

    await products.onPullDownRefresh()
    assert.deepEqual(products.data.products.slice(0, 2).map((p) => p.quantity), [1, 2], 'quantities survive a refresh')
    assertShows(products, 'Check out (3)')

    await harness.tap(products, 'Check out')
    const checkout = await openNavigated(wx)
    await harness.tap(checkout, 'Pay')
    assert.equal(checkout.data.payState, 'paid', harness.screenText(checkout))

    await products.onShow() // back to the product list
    assert.equal(products.data.itemCount, 0, harness.screenText(products))
    assert.ok(products.data.products.every((p) => p.quantity === 0))
    assert.equal(harness.tap(products, 'Check out'), undefined, 'nothing to check out: the button is disabled')
  })

  test('expiry: "pay by" while payable; past time_expire "expired", no Pay, before any close job', async () => {
    const wx = install()
    wx.script.showModal = () => ({ confirm: false })
    const [product] = await catalogue()
    const checkout = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(checkout, 'Pay') // cancelled: the order stays unpaid
    const { id: orderId } = checkout.data.order
    const order = await api.getOrder(orderId)

    const detail = await open('pages/order/index', { id: String(orderId) })
    assertShows(detail, 'Pay by ' + localTime(order.time_expire))
    assertShows(detail, 'Pay ' + formatFen(product.price))
    detail.onUnload()

    stack.sql("UPDATE orders SET time_expire = datetime('now', '-1 minute') WHERE id = ?", orderId)
    assert.equal((await api.getOrder(orderId)).status, 'NOTPAY', 'no close job has run')

    const expired = await open('pages/order/index', { id: String(orderId) })
    const screen = harness.screenText(expired)
    assert.ok(screen.includes('Expired'), screen)
    assert.ok(!screen.includes('Pay by') && !screen.includes('Pay ¥'), 'no way to pay: ' + screen)

    // The checkout still open from before: Pay is refused by the server; the page says why.
    await harness.tap(checkout, 'Pay')
    assert.equal(checkout.data.payState, 'expired', harness.screenText(checkout))
    assertShows(checkout, 'The time to pay this order has passed')
    assert.ok(!harness.screenText(checkout).includes('Pay ¥'))
  })

  test('an order page opened while the payment is being confirmed keeps asking until it is paid', async () => {
    const wx = install()
    await auth.getToken()
    config.sandboxBaseUrl = ''
    pay.pollDelaysMs = [300, 300, 300, 300, 300, 300, 300, 300]
    wx.script.requestPayment = async () => 'requestPayment:ok' // the cashier said ok; not paid yet
    const [product] = await catalogue()
    const checkout = await open('pages/checkout/index', { cart: product.id + ':1' })
    const paying = harness.tap(checkout, 'Pay')
    while (checkout.data.payState !== 'confirming') await new Promise((resolve) => setTimeout(resolve, 10))

    await harness.tap(checkout, 'View order')
    checkout.onUnload() // redirectTo closes the checkout
    const opening = openNavigated(wx)
    await paying
    // The payment goes through while the order page is open; its notification is delivered.
    await sandbox('/sandbox/pay', { prepay_id: prepayIdOf(wx.payments[0]), action: 'pay' })
    await notificationAcknowledged(checkout.data.order.outTradeNo)
    const detail = await opening

    assert.ok(payStates(detail).includes('confirming'), 'it said it was confirming: ' + JSON.stringify(payStates(detail)))
    assert.equal(detail.data.payState, 'paid', harness.screenText(detail))
    assertShows(detail, 'Payment received')
    assert.equal(detail.data.order.status, 'PAID')
  })

  test('errors: user texts only, and no "Try again" where trying again cannot help', async () => {
    install()
    const missing = await open('pages/order/index', { id: '2147483000' })
    let screen = harness.screenText(missing)
    assert.ok(screen.includes('This order cannot be found.'), screen)
    assert.ok(!screen.includes('no such order'), 'not the server\'s message: ' + screen)
    assert.ok(!screen.includes('Try again'), 'retrying cannot find it: ' + screen)

    // Real WeChat login failing on the phone: WeChat's errMsg is not for users.
    const wx = install()
    config.sandboxBaseUrl = ''
    wx.script.loginFails = () => 'login:fail timeout'
    const products = await open('pages/products/index')
    screen = harness.screenText(products)
    assert.ok(screen.includes('WeChat login did not work'), screen)
    assert.ok(!screen.includes('login:fail'), screen)
    assert.ok(screen.includes('Try again'), 'a login may work the next time')

    // A login code the server (and WeChat) refuse: the backend's developer text stays hidden.
    wx.script.loginFails = () => ''
    await products.onRetry()
    const login = wx.requests.find((r) => r.url.endsWith('/api/login'))
    assert.equal(login.body.error.code, 'INVALID_CODE')
    screen = harness.screenText(products)
    assert.ok(screen.includes('Your login has expired'), screen)
    assert.ok(!screen.includes('wx.login'), screen)
  })

  test('order number: shortened on screen, copied whole', async () => {
    const wx = install('zh_CN')
    wx.script.showModal = () => ({ confirm: false })
    const [product] = await catalogue()
    const checkout = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(checkout, '支付')
    assert.deepEqual(wx.modals.map((m) => [m.confirmText, m.cancelText]), [['支付', '取消']])
    const { outTradeNo, id } = checkout.data.order
    assert.equal(outTradeNo.length, 26)

    const detail = await open('pages/order/index', { id: String(id) })
    const screen = harness.screenText(detail)
    assert.ok(!screen.includes(outTradeNo), 'the full number is not shown: ' + screen)
    assert.ok(screen.includes('订单号 …' + outTradeNo.slice(-8)), screen)
    await harness.tap(detail, '复制')
    assert.deepEqual(wx.clipboard, [outTradeNo])
  })

  // ---- after the payment: refunds and shipping ----------------------------------------

  // A new user's paid order, its page opened from the checkout's "View order" (in the
  // install's language).
  async function paidOrderPage(wx) {
    wx.script.showModal = () => ({ confirm: true })
    const [product] = await catalogue()
    const checkout = await open('pages/checkout/index', { cart: product.id + ':1' })
    await harness.tap(checkout, i18n.text('common.pay'))
    assert.equal(checkout.data.payState, 'paid', harness.screenText(checkout))
    await harness.tap(checkout, i18n.text('common.viewOrder'))
    return openNavigated(wx)
  }

  // Pull to refresh until the page's order satisfies `done` (the backend acts on WeChat's
  // notifications and pushes, which arrive a moment later).
  async function refreshUntil(page, done) {
    for (let i = 0; i < 50; i++) {
      await page.onPullDownRefresh()
      if (done(page.data.order)) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.fail('the order page never showed the expected state: ' + harness.screenText(page))
  }

  function assertHides(page, text) {
    const screen = harness.screenText(page)
    assert.ok(!screen.includes(text), 'did not expect "' + text + '" on ' + page.route + ', screen: ' + screen)
  }

  test('refund: the user asks from the order page, the shop approves, the order shows refunded', async () => {
    const wx = install()
    const page = await paidOrderPage(wx)
    const { id, total } = page.order
    assertShows(page, 'Request a refund')

    await harness.tap(page, 'Request a refund')
    assertHides(page, 'Request a refund') // the form replaces the button
    await harness.tap(page, 'Send request')
    assertShows(page, 'Please give a reason.')
    assert.equal(countCalls(wx, 'POST /api/orders/' + id + '/refund-request'), 0)

    page.onReasonInput({ detail: { value: 'Arrived cold' } })
    wx.script.showModal = () => ({ confirm: false }) // thinks again
    await harness.tap(page, 'Send request')
    assert.equal(countCalls(wx, 'POST /api/orders/' + id + '/refund-request'), 0)
    wx.script.showModal = () => ({ confirm: true })
    await harness.tap(page, 'Send request')
    assert.deepEqual(wx.modals.slice(-2).map((m) => [m.title, m.confirmText, m.cancelText]),
      [['Request a refund', 'Send', 'Back'], ['Request a refund', 'Send', 'Back']])
    assert.ok(wx.modals[wx.modals.length - 1].content.includes(formatFen(total)), 'the dialog says how much')
    const sent = wx.requests.find((r) => r.url.endsWith('/api/orders/' + id + '/refund-request'))
    assert.deepEqual([sent.status, sent.sent], [201, { reason: 'Arrived cold' }])
    assertShows(page, 'Request sent. The shop will review it.')
    assertShows(page, 'Refund request Waiting for the shop')
    assertHides(page, 'Request a refund')

    // A second request (another phone, a stale page) is refused with its own text.
    await assert.rejects(api.requestRefund(id, 'again'), (err) => err.code === 'REQUEST_ALREADY_PENDING')

    const [request] = (await api.getOrder(id)).refund_requests
    stack.flask('refund-requests', 'approve', String(request.id), '--note', 'Sorry about that')
    await refreshUntil(page, (order) => order.status === 'REFUNDED')
    assertShows(page, 'Refunded')
    assertShows(page, 'Approved by the shop')
    assertShows(page, 'The shop says: Sorry about that')
    assertShows(page, 'Returned to you ' + formatFen(total))
    assertShows(page, 'Refunded ' + formatFen(total))
    assertHides(page, 'Request a refund')
    assertHides(page, 'Pay')
  })

  test('refund: a declined request shows the shop\'s note; past the window a stale page explains and hides the button', async () => {
    const wx = install('zh_CN')
    const page = await paidOrderPage(wx)
    const id = page.order.id

    await harness.tap(page, '申请退款')
    page.onReasonInput({ detail: { value: '不想要了' } })
    await harness.tap(page, '提交申请')
    assert.deepEqual(wx.modals.slice(-1).map((m) => [m.confirmText, m.cancelText]), [['提交', '取消']])
    assertShows(page, '等待商家处理')
    const [request] = page.order.refund_requests
    stack.flask('refund-requests', 'reject', String(request.id), '--note', '商品已拆封')
    await refreshUntil(page, (order) => order.refund.request.status === 'REJECTED')
    assertShows(page, '商家未同意')
    assertShows(page, '商家说明：商品已拆封')
    assertShows(page, '申请退款') // may ask again

    // The window closes while the page is open: the tap is refused with a text, and the page
    // then shows the order as the server has it, without the button.
    await harness.tap(page, '申请退款')
    stack.sql("UPDATE orders SET paid_at = datetime('now', '-30 days') WHERE id = ?", id)
    page.onReasonInput({ detail: { value: '还是想退' } })
    await harness.tap(page, '提交申请')
    assertShows(page, '已超过可申请退款的时间，请联系客服。')
    assert.throws(() => harness.tap(page, '申请退款'), /nothing tappable/)
    assert.equal(page.data.order.refund.canRequest, false)
  })

  test('shipping: shipped from the CLI, tracking shown and copied, receipt confirmed through the simulator, the order completed', async () => {
    const wx = install()
    const page = await paidOrderPage(wx)
    const { id, transaction_id: transactionId } = page.order
    assertHides(page, 'Delivery')
    assertHides(page, 'Confirm receipt')

    stack.flask('shipping', 'ship', String(id), '--logistics', 'express', '--package', 'ZT1234567890:ZTO')
    await refreshUntil(page, (order) => order.shipping && order.shipping.canConfirm)
    assertShows(page, 'Delivery Shipped Express')
    assertShows(page, 'ZTO Express Tracking no. ZT1234567890')
    await harness.tap(page, 'Copy', 1) // the first Copy is the order number's
    assert.deepEqual(wx.clipboard, ['ZT1234567890'])

    wx.script.showModal = () => ({ confirm: false })
    await harness.tap(page, 'Confirm receipt')
    assert.equal(countCalls(wx, 'POST /sandbox/shipping/confirm'), 0, 'cancelled: nothing confirmed')
    assertShows(page, 'Confirm receipt')

    wx.script.showModal = () => ({ confirm: true })
    await harness.tap(page, 'Confirm receipt')
    assert.deepEqual(wx.modals.slice(-1).map((m) => [m.title, m.confirmText, m.cancelText]), [['Simulated receipt', 'Yes', 'Back']])
    const confirmed = wx.requests.find((r) => r.url.endsWith('/sandbox/shipping/confirm'))
    assert.deepEqual(confirmed.sent, { transaction_id: transactionId })
    assert.deepEqual(calls(wx).slice(-2), ['POST /sandbox/shipping/confirm', 'POST /api/orders/' + id + '/shipping/sync'])
    assert.equal(wx.businessViews.length, 0, 'the simulator stands in for WeChat\'s component')
    assertShows(page, 'Receipt confirmed. Thank you!')
    assertShows(page, 'Delivery Completed')
    assertShows(page, 'Received ' + page.data.order.shipping.receivedText)
    assertHides(page, 'Confirm receipt')
    const settled = (await api.getOrder(id)).shipping
    assert.equal(settled.wechat_state, 4)
    assert.ok(settled.received_at && settled.settled_at, JSON.stringify(settled))
  })

  test('shipping in WeChat: confirm receipt opens weappOrderConfirm with the order\'s ids; an old base library is told to update', async () => {
    const wx = install()
    const page = await paidOrderPage(wx)
    const { id, out_trade_no: outTradeNo, transaction_id: transactionId } = page.order
    stack.flask('shipping', 'ship', String(id), '--logistics', 'virtual')
    await refreshUntil(page, (order) => order.shipping && order.shipping.canConfirm)
    assertShows(page, 'Delivery Shipped Digital goods')
    config.sandboxBaseUrl = '' // WeChat's own component from here on

    wx.script.canIUse = (name) => name !== 'openBusinessView'
    await harness.tap(page, 'Confirm receipt')
    assertShows(page, 'This WeChat version cannot confirm receipt here. Please update WeChat.')
    assert.equal(wx.businessViews.length, 0)

    wx.script.canIUse = () => true
    wx.script.openBusinessView = async () => 'openBusinessView:fail cancel' // closed it
    await harness.tap(page, 'Confirm receipt')
    assertShows(page, 'Confirm receipt')
    assertHides(page, 'WeChat has not confirmed')

    // WeChat's component said ok, but WeChat has recorded nothing (yet): the page says so.
    wx.script.openBusinessView = async () => 'openBusinessView:ok'
    await harness.tap(page, 'Confirm receipt')
    assertShows(page, 'WeChat has not confirmed your receipt yet.')

    wx.script.openBusinessView = async ({ extraData }) => {
      await sandbox('/sandbox/shipping/confirm', { transaction_id: extraData.transaction_id }) // the user confirms in WeChat
      return 'openBusinessView:ok'
    }
    await harness.tap(page, 'Confirm receipt')
    assert.deepEqual(wx.businessViews[wx.businessViews.length - 1], {
      businessType: 'weappOrderConfirm',
      extraData: { merchant_id: stack.env.WECHATPAY_MCHID, merchant_trade_no: outTradeNo, transaction_id: transactionId }
    })
    assertShows(page, 'Receipt confirmed. Thank you!')
    assertShows(page, 'Delivery Completed')
  })

  test('the token never appears in page data or in anything printed', () => {
    const tokens = installs.flatMap((wx) => wx.requests)
      .filter((r) => r.url.endsWith('/api/login') && r.body && r.body.token)
      .map((r) => r.body.token)
    assert.ok(tokens.length >= installs.length, 'tokens were issued')
    assert.ok(openedPages.length > 5)
    for (const page of openedPages) {
      const everything = JSON.stringify([page.data, page.dataHistory])
      for (const token of tokens) assert.ok(!everything.includes(token), 'token in ' + page.route + ' data')
    }
    for (const token of tokens) assert.ok(!printed.join('\n').includes(token), 'token printed')
  })
})
