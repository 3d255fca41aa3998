// Every page rendered by WeChat's official test framework (miniprogram-simulate, j-component,
// wcc), in Chinese and in English, with its data from the real backend and simulator.
const { before, after, test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const sim = require('./simulate') // first: it sets up the document the framework renders into
const browser = require('./browser')
const devstack = require('./devstack')

const MP = sim.MINIPROGRAM
const config = require(path.join(MP, 'config.js'))
const i18n = require(path.join(MP, 'i18n/index.js'))
const { formatFen } = require(path.join(MP, 'utils/money.js'))

devstack.describeWithDevstack('every page, both languages, official framework', () => {
  let stack
  const pages = []

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
      const { first, second, unpaid, paid } = await sim.shopperWithOrders(stack.sandbox, language)
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

  for (const language of ['zh_CN', 'en']) {
    test(language + ': an order refunded at the user\'s request and a shipped one', async () => {
      const { first } = await sim.shopperWithOrders(stack.sandbox, language)
      const t = i18n.LANGUAGES[language]
      const { refunded, shipped } = await sim.afterSaleOrders(stack, first, language)

      const screens = {
        refunded: await render('pages/order/index', { id: String(refunded.id) }),
        shipped: await render('pages/order/index', { id: String(shipped.id) }),
        orders: await render('pages/orders/index')
      }
      const expect = {
        refunded: [t.status.REFUNDED, t.refund.requestTitle, t.refund.requestStatus.APPROVED, i18n.format(t.refund.shopNote, { note: sim.AFTER_SALE[language].note }),
          i18n.format(t.refund.yourReason, { reason: sim.AFTER_SALE[language].reason }),
          t.refund.refundStatus.SUCCESS, i18n.format(t.refund.refunded, { amount: formatFen(first.price) })],
        shipped: [t.status.PAID, t.shipping.title, t.shipping.state[2], t.shipping.logistics[1], t.shipping.carriers.ZTO, t.shipping.trackingNo + ' ZT1234567890',
          t.shipping.confirm, t.refund.request],
        orders: [t.status.REFUNDED]
      }
      for (const [screen, texts] of Object.entries(expect)) {
        for (const text of texts) assert.ok(screens[screen].includes(text), language + ' ' + screen + ': "' + text + '" in ' + screens[screen])
        assert.ok(!/undefined|\{\w+\}|\{\{/.test(screens[screen]), language + ' ' + screen + ': ' + screens[screen])
        if (language === 'zh_CN') {
          assert.ok(!/[A-Za-z]{3,}/.test(screens[screen].replace(/…[0-9a-f]{8}/g, '')), 'no English on a Chinese screen: ' + screens[screen])
        }
      }
      assert.ok(!screens.refunded.includes(t.refund.request), 'no refund request on a refunded order')
      assert.ok(!screens.refunded.includes(t.shipping.confirm), 'nothing to confirm on an unshipped order')
    })
  }

  // Laid out by Chromium from the framework's output (an approximation of WeChat's layout).
  test('a long cart on a small screen: nothing hides behind the two-button footer', async (t) => {
    const reason = browser.missingReason()
    if (reason && process.env.CI === 'true') assert.fail(reason + ' (CI=true: not skipping)')
    if (reason) return t.skip(reason)
    await sim.shopperWithOrders(stack.sandbox, 'zh_CN')
    const products = await (await fetch(stack.backend + '/api/products')).json()
    const cart = products.products.map((p) => p.id + ':1').join(',')
    const checkout = await sim.renderPage('pages/checkout/index', { cart })
    pages.push(checkout)
    wx.script.showModal = () => ({ confirm: false })
    // The beans ship: the user picks an address first (one more card above the footer).
    wx.script.chooseAddress = () => ({ userName: '张三', telNumber: '13800005678', provinceName: '广东省', cityName: '广州市', countyName: '海珠区', detailInfo: '新港中路397号' })
    await checkout.instance.onPay() // cancelled: the order exists, so both buttons show
    assert.equal(checkout.instance.data.payState, 'cancelled')

    const chromium = await browser.launch()
    try {
      const page = await browser.openHtml(chromium, sim.pageHtml(checkout), { height: 420, scrollToBottom: true })
      const buttons = await page.locator('[class~="main--footer"] wx-button').count()
      assert.equal(buttons, 2)
      // Scrolled to the end, everything above the footer (the cart's lines, the total, the
      // payment notice, the order number) ends above it; the footer's own ancestors (the
      // container, whose bottom padding is the room left for it) are not content.
      const { contentBottom, footerTop } = await page.evaluate(() => {
        const footer = document.querySelector('[class~="main--footer"]')
        let bottom = 0
        for (const element of document.querySelectorAll('main *')) {
          if (!footer.contains(element) && !element.contains(footer) && element.getClientRects().length) bottom = Math.max(bottom, element.getBoundingClientRect().bottom)
        }
        return { contentBottom: bottom, footerTop: footer.getBoundingClientRect().top }
      })
      assert.ok(contentBottom <= footerTop, 'content ends at ' + contentBottom + ', footer starts at ' + footerTop)
    } finally {
      await chromium.close()
    }
  })
})
