// Every page rendered by WeChat's official test framework (miniprogram-simulate, j-component,
// wcc), in Chinese and in English, with its data from the real backend and simulator.
const { before, after, test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const sim = require('./simulate') // first: it sets up the document the framework renders into
const devstack = require('./devstack')
const { createWx } = require('./wx-shim')

const MP = sim.MINIPROGRAM
const config = require(path.join(MP, 'config.js'))
const api = require(path.join(MP, 'utils/api.js'))
const i18n = require(path.join(MP, 'i18n/index.js'))
const { formatFen } = require(path.join(MP, 'utils/money.js'))

devstack.describeWithDevstack('every page, both languages, official framework', () => {
  let stack
  const pages = []

  // One shopper per language, with an unpaid and a paid order.
  async function shopper(language) {
    global.wx = createWx({ language })
    const [first, second] = await api.listProducts()
    const unpaid = (await api.createOrder([{ product_id: first.id, quantity: 1 }], 'render-unpaid-' + language)).order
    const paid = await api.createOrder([{ product_id: first.id, quantity: 2 }, { product_id: second.id, quantity: 1 }], 'render-paid-' + language)
    const prepayId = paid.pay_params.package.replace(/^prepay_id=/, '')
    const response = await fetch(stack.sandbox + '/sandbox/pay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prepay_id: prepayId, action: 'pay' }) })
    assert.equal(response.status, 200)
    for (let i = 0; i < 50 && (await api.getOrder(paid.order.id)).status !== 'PAID'; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    return { first, second, unpaid, paid: await api.getOrder(paid.order.id) }
  }

  async function render(route, query) {
    const page = await sim.renderPage(route, query)
    pages.push(page)
    return sim.screenText(page)
  }

  before(async () => {
    stack = await devstack.start()
    config.apiBaseUrl = stack.backend
    config.sandboxBaseUrl = stack.sandbox
  })

  after(async () => {
    for (const page of pages) if (page.instance.onUnload) page.instance.onUnload()
    if (stack) await stack.stop()
  })

  for (const language of ['zh_CN', 'en']) {
    test(language + ': products, checkout, order (unpaid and paid) and the order list', async () => {
      const { first, second, unpaid, paid } = await shopper(language)
      const t = i18n.LANGUAGES[language]

      const screens = {
        products: await render('pages/products/index'),
        checkout: await render('pages/checkout/index', { cart: first.id + ':2,' + second.id + ':1' }),
        unpaid: await render('pages/order/index', { id: String(unpaid.id) }),
        paid: await render('pages/order/index', { id: String(paid.id) }),
        orders: await render('pages/orders/index')
      }
      const expect = {
        products: [t.products.intro, first.name, formatFen(first.price), second.name, t.products.checkout + ' (0)'],
        checkout: [first.name + ' × 2', second.name + ' × 1', t.common.total, formatFen(2 * first.price + second.price), t.common.pay],
        unpaid: [t.status.NOTPAY, t.order.payBy, t.common.copy, t.common.pay + ' ' + formatFen(first.price), unpaid.out_trade_no.slice(-8)],
        paid: [t.status.PAID, t.order.paid, formatFen(paid.total), first.name + ' × 2'],
        orders: [t.status.NOTPAY, t.status.PAID, formatFen(unpaid.total)]
      }
      for (const [screen, texts] of Object.entries(expect)) {
        for (const text of texts) assert.ok(screens[screen].includes(text), language + ' ' + screen + ': "' + text + '" in ' + screens[screen])
        assert.ok(!/undefined|\{\w+\}|\{\{/.test(screens[screen]), language + ' ' + screen + ': ' + screens[screen])
        assert.ok(!screens[screen].includes(unpaid.out_trade_no) && !screens[screen].includes(paid.out_trade_no), 'no full order number')
        if (language === 'zh_CN') {
          assert.ok(!/[A-Za-z]{3,}/.test(screens[screen].replace(/…[0-9a-f]{8}/g, '')), 'no English on a Chinese screen: ' + screens[screen])
        }
      }
      assert.ok(!screens.paid.includes(t.common.pay + ' ¥'), 'no Pay button on a paid order')
    })
  }
})
