// Delivery addresses, product pictures, the order list's tabs and cancelling an unpaid order,
// rendered by WeChat's official test framework (miniprogram-simulate) with the pages' own code
// against the real backend and simulator (the dev stack). The test plays the user: what
// wx.chooseAddress answers (an address, or declined) and the dialogs.
const { before, after, test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const sim = require('./simulate') // first: it sets up the document the framework renders into
const devstack = require('./devstack')
const { createWx } = require('./wx-shim')

const MP = sim.MINIPROGRAM
const config = require(path.join(MP, 'config.js'))
const api = require(path.join(MP, 'utils/api.js'))
const pay = require(path.join(MP, 'utils/pay.js'))
const i18n = require(path.join(MP, 'i18n/index.js'))

const CHOSEN = {
  userName: '张三',
  telNumber: '13800005678',
  provinceName: '广东省',
  cityName: '广州市',
  countyName: '海珠区',
  detailInfo: '新港中路397号'
}

devstack.describeWithDevstack('addresses, pictures, tabs and cancelling, official framework', () => {
  let stack
  const pages = []
  const t = i18n.LANGUAGES.zh_CN

  async function render(route, query) {
    const page = await sim.renderPage(route, query)
    pages.push(page)
    return page
  }

  function install() {
    global.wx = createWx({ language: 'zh_CN' })
    // The simulator's cashier is a dialog in development: the user pays; any other dialog
    // (cancelling an order) is confirmed too.
    wx.script.showModal = () => ({ confirm: true })
    return wx
  }

  function orderPosts(wx) {
    return wx.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/api/orders')
  }

  async function catalogue() {
    const products = await api.listProducts()
    return { beans: products.find((p) => p.ships), coffee: products.find((p) => !p.ships) }
  }

  before(async () => {
    stack = await devstack.start()
    config.apiBaseUrl = stack.backend
    config.sandboxBaseUrl = stack.sandbox
    pay.pollDelaysMs = [100, 200, 400, 800, 1500, 3000]
  })

  after(async () => {
    for (const page of pages) if (page.instance.onUnload) page.instance.onUnload()
    if (stack) await stack.stop()
  })

  test('checkout of beans: the user picks a WeChat address, pays, and the order keeps it', async () => {
    const wx = install()
    const { beans } = await catalogue()
    wx.script.chooseAddress = () => CHOSEN
    const checkout = await render('pages/checkout/index', { cart: beans.id + ':1' })
    let screen = sim.screenText(checkout)
    assert.ok(screen.includes(t.checkout.address) && screen.includes(t.checkout.chooseAddress), screen)

    await checkout.instance.onPay() // no address yet: WeChat's address list opens, then pay
    assert.equal(wx.addressRequests, 1)
    assert.equal(checkout.instance.data.payState, 'paid')
    screen = sim.screenText(checkout)
    assert.ok(screen.includes('张三 138****5678'), screen)
    assert.ok(screen.includes('广东省广州市海珠区新港中路397号'), screen)
    assert.ok(!screen.includes('13800005678'), 'the phone is shown masked')
    const [post] = orderPosts(wx)
    assert.deepEqual(post.sent.address, { name: '张三', phone: '13800005678', province: '广东省', city: '广州市', district: '海珠区', detail: '新港中路397号' })

    const order = await render('pages/order/index', { id: String(post.body.order.id) })
    screen = sim.screenText(order)
    assert.ok(screen.includes(t.order.address) && screen.includes('张三 138****5678'), screen)
    assert.ok(screen.includes(t.order.changeAddress), 'paid and not shipped: the address may change')

    // Another WeChat address, while it has not shipped.
    wx.script.chooseAddress = () => Object.assign({}, CHOSEN, { userName: '李四', cityName: '深圳市', countyName: '南山区' })
    await order.instance.onChangeAddress()
    screen = sim.screenText(order)
    assert.ok(screen.includes(t.order.addressChanged) && screen.includes('李四 138****5678'), screen)
    assert.ok(screen.includes('广东省深圳市南山区'), screen)
  })

  test('checkout of beans: the user declines WeChat\'s addresses and fills in the form', async () => {
    const wx = install()
    const { beans } = await catalogue()
    wx.script.chooseAddress = () => 'chooseAddress:fail auth deny'
    const checkout = await render('pages/checkout/index', { cart: beans.id + ':2' })
    const page = checkout.instance

    await page.onPay()
    assert.equal(orderPosts(wx).length, 0, 'no order without an address')
    assert.equal(page.data.addressForm, true)
    let screen = sim.screenText(checkout)
    assert.ok(screen.includes(t.checkout.fillAddress) && screen.includes(t.checkout.addressNeeded), screen)

    const type = (field, value) => page.onFormInput({ currentTarget: { dataset: { field } }, detail: { value } })
    type('name', '王五')
    page.onUseForm()
    assert.ok(sim.screenText(checkout).includes(t.checkout.fieldMissing.phone))
    type('phone', '12345') // the server refuses it
    page.onRegionChange({ detail: { value: ['北京市', '北京市', '朝阳区'] } })
    type('detail', '建国路88号')
    page.onUseForm()
    await page.onPay()
    assert.equal(page.data.payError, t.errors.INVALID_PHONE)
    assert.equal(page.data.addressForm, true, 'the form is offered again to correct it')
    assert.equal(orderPosts(wx)[0].status, 400)

    type('phone', '010-12345678')
    page.onUseForm()
    await page.onPay()
    assert.equal(page.data.payState, 'paid')
    const created = orderPosts(wx).filter((r) => r.status === 201)
    assert.equal(created.length, 1)
    assert.deepEqual(created[0].body.order.address, { name: '王五', phone: '01012345678', province: '北京市', city: '北京市', district: '朝阳区', detail: '建国路88号' })
    screen = sim.screenText(checkout)
    assert.ok(screen.includes('王五 010****5678') && screen.includes('北京市北京市朝阳区建国路88号'), screen)
  })

  test('a drink needs no address; pictures show on the product list', async () => {
    const wx = install()
    const { coffee } = await catalogue()
    wx.script.chooseAddress = () => assert.fail('no address is asked for a drink')
    const checkout = await render('pages/checkout/index', { cart: coffee.id + ':1' })
    assert.ok(!sim.screenText(checkout).includes(t.checkout.address))
    await checkout.instance.onPay()
    assert.equal(checkout.instance.data.payState, 'paid')
    assert.equal(orderPosts(wx)[0].sent.address, undefined)

    // The demo catalogue's pictures (flask seed) are served by the backend.
    const products = await render('pages/products/index')
    const images = products.dom.querySelectorAll('wx-image')
    const withPicture = (await api.listProducts()).filter((p) => p.image)
    assert.equal(images.length, withPicture.length)
    for (const product of withPicture) {
      const response = await fetch(product.image.medium)
      assert.equal(response.status, 200)
      assert.equal(response.headers.get('content-type'), 'image/jpeg')
    }
  })

  test('the order list\'s tabs, and cancelling an unpaid order (closed with WeChat first)', async () => {
    const { unpaid, paid } = await sim.shopperWithOrders(stack.sandbox, 'zh_CN') // a new install
    const wx = global.wx
    wx.script.showModal = () => ({ confirm: true }) // "cancel the order?" yes

    const list = await render('pages/orders/index')
    const page = list.instance
    let screen = sim.screenText(list)
    for (const name of ['all', 'unpaid', 'paid', 'shipped', 'refunds']) assert.ok(screen.includes(t.orders.tabs[name]), screen)
    const shown = () => page.data.orders.map((o) => o.id)
    assert.ok(shown().includes(unpaid.id) && shown().includes(paid.id))
    page.onTab({ currentTarget: { dataset: { tab: 'unpaid' } } })
    assert.ok(shown().includes(unpaid.id) && !shown().includes(paid.id))
    page.onTab({ currentTarget: { dataset: { tab: 'paid' } } })
    assert.ok(shown().includes(paid.id) && !shown().includes(unpaid.id))
    page.onTab({ currentTarget: { dataset: { tab: 'refunds' } } })
    assert.deepEqual(shown(), [])
    assert.ok(sim.screenText(list).includes(t.orders.tabEmpty))

    // Cancel: WeChat closes an order only 5 minutes after it was placed.
    const order = await render('pages/order/index', { id: String(unpaid.id) })
    assert.ok(sim.screenText(order).includes(t.order.cancel))
    await order.instance.onCancelOrder()
    screen = sim.screenText(order)
    assert.ok(screen.includes(t.order.cancelTooSoon.split('{time}')[0]), screen)
    assert.equal(order.instance.data.order.status, 'NOTPAY')

    stack.sql("UPDATE orders SET created_at = datetime(created_at, '-6 minutes') WHERE id = ?", unpaid.id)
    await order.instance.onCancelOrder()
    screen = sim.screenText(order)
    assert.ok(screen.includes(t.order.cancelled) && screen.includes(t.status.CLOSED), screen)
    assert.ok(!screen.includes(t.order.cancel + ' ') && !screen.includes(t.common.pay + ' ¥'), 'no Pay or Cancel on a closed order')
    const atWeChat = await (await fetch(stack.sandbox + '/sandbox/orders/' + unpaid.out_trade_no)).json()
    assert.equal(atWeChat.order.trade_state, 'CLOSED')
    const cancels = wx.requests.filter((r) => r.url.endsWith('/cancel'))
    assert.deepEqual(cancels.map((r) => r.status), [409, 200])
  })
})
