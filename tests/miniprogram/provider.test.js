// The mini program against a service provider's deployment (make dev PROVIDER=1, two demo
// stores, docs/provider.md): the products page shows both stores and each store's products,
// and a new user pays at each store with the pay params the backend signed (the simulator's
// cashier checks paySign's appId against the order's appids).
const { before, after, test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const sim = require('./simulate') // first: it sets up the document the framework renders into
const devstack = require('./devstack')
const { createWx } = require('./wx-shim')

const MP = sim.MINIPROGRAM
const config = require(path.join(MP, 'config.js'))
const api = require(path.join(MP, 'utils/api.js'))

devstack.describeWithDevstack('a service provider deployment with two stores', () => {
  let stack
  let page

  before(async () => {
    stack = await devstack.start({ provider: true })
    config.apiBaseUrl = stack.backend
    config.sandboxBaseUrl = stack.sandbox
  })

  after(async () => {
    if (page && page.instance.onUnload) page.instance.onUnload()
    if (stack) await stack.stop()
  })

  test('both stores are shown, and a new user pays at each', async () => {
    global.wx = createWx({ language: 'zh_CN' })
    page = await sim.renderPage('pages/products/index')
    const stores = await api.listStores()
    assert.deepEqual(stores.map((s) => s.title), ['西湖茶铺', '兰州面馆'])
    for (const store of stores) {
      await page.instance.onStore({ currentTarget: { dataset: { store: store.name } } })
      const shown = sim.screenText(page)
      assert.ok(shown.includes('西湖茶铺') && shown.includes('兰州面馆'), shown)
      const [product] = await api.listProducts(store.name)
      assert.equal(product.store, store.name)
      assert.ok(shown.includes(product.name), shown)
      const created = await api.createOrder([{ product_id: product.id, quantity: 1 }], 'provider-' + store.name)
      const response = await fetch(stack.sandbox + '/sandbox/pay', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pay_params: created.pay_params, action: 'pay' })
      })
      assert.ok(response.ok, await response.text())
      let order = await api.getOrder(created.order.id)
      for (let i = 0; i < 50 && order.status !== 'PAID'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        order = await api.getOrder(created.order.id)
      }
      assert.equal(order.status, 'PAID')
    }
  })
})
