// npm run screenshots: pictures of the sample mini program's pages for its README, in
// docs/miniprogram/. Each page is rendered by WeChat's test framework (miniprogram-simulate,
// tests/miniprogram/simulate.js) with data from a real dev stack, turned into HTML with the
// project's WXSS (rpx -> px), and photographed by Debian's Chromium. An approximation of
// WeChat's rendering: built-in components (buttons, the navigation bar) are imitated.
const fs = require('node:fs')
const path = require('node:path')

const sim = require('../tests/miniprogram/simulate')
const browser = require('../tests/miniprogram/browser')
const devstack = require('../tests/miniprogram/devstack')

const config = require(path.join(sim.MINIPROGRAM, 'config.js'))
const i18n = require(path.join(sim.MINIPROGRAM, 'i18n/index.js'))
const OUT = path.resolve(__dirname, '..', 'docs', 'miniprogram')

// WeChat draws the navigation bar itself; a plain imitation on top of the page.
function withNavigationBar(html, title) {
  const bar = '<div style="position:sticky;top:0;z-index:9;height:44px;line-height:44px;text-align:center;' +
    'font-size:17px;font-weight:500;background:#fff;border-bottom:1px solid #eee">' + title + '</div>'
  return html.replace('<body>', '<body>' + bar)
}

async function main() {
  const reason = browser.missingReason()
  if (reason) throw new Error(reason)
  fs.mkdirSync(OUT, { recursive: true })
  const stack = await devstack.start()
  const chromium = await browser.launch()
  const pages = []
  try {
    config.apiBaseUrl = stack.backend
    config.sandboxBaseUrl = stack.sandbox
    for (const language of ['zh_CN', 'en']) {
      const { first, second, unpaid, paid } = await sim.shopperWithOrders(stack.sandbox, language)
      const t = i18n.LANGUAGES[language]
      const { refunded, shipped } = await sim.afterSaleOrders(stack, first, language)
      const products = await sim.renderPage('pages/products/index')
      products.instance.changeQuantity(0, 2)
      products.instance.changeQuantity(1, 1)
      const shots = [
        ['products', products, t.products.title],
        ['checkout', await sim.renderPage('pages/checkout/index', { cart: first.id + ':2,' + second.id + ':1' }), t.checkout.title],
        ['order-unpaid', await sim.renderPage('pages/order/index', { id: String(unpaid.id) }), t.order.title],
        ['order-paid', await sim.renderPage('pages/order/index', { id: String(paid.id) }), t.order.title],
        ['order-refunded', await sim.renderPage('pages/order/index', { id: String(refunded.id) }), t.order.title],
        ['order-shipped', await sim.renderPage('pages/order/index', { id: String(shipped.id) }), t.order.title],
        ['orders', await sim.renderPage('pages/orders/index'), t.orders.title]
      ]
      for (const [name, page, title] of shots) {
        pages.push(page)
        const tab = await browser.openHtml(chromium, withNavigationBar(sim.pageHtml(page), title), { height: 667, scale: 2 })
        const file = path.join(OUT, language + '-' + name + '.png')
        await tab.screenshot({ path: file })
        await tab.close()
        console.log('wrote', path.relative(process.cwd(), file))
      }
    }
  } finally {
    for (const page of pages) if (page.instance.onUnload) page.instance.onUnload()
    await chromium.close()
    await stack.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
