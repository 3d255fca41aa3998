// The mini program's pages rendered by WeChat's official test framework: miniprogram-simulate
// on j-component, with the pages registered as components (they are built with
// Component()), their WXML compiled by WeChat's wcc, in a jsdom document. The pages' own
// code runs: onLoad fetches from whatever backend config.js names (in tests, the dev stack).
//
// Also turns a rendered page into a standalone HTML document (for screenshots and layout
// checks in Chromium): the project's WXSS with rpx converted to px for a 375 px wide phone,
// plus a few rules approximating WeChat's built-in components. An approximation of WeChat's
// rendering, not WeChat's rendering.
const fs = require('node:fs')
const path = require('node:path')
const { JSDOM } = require('jsdom')

const { createWx } = require('./wx-shim')

const MINIPROGRAM = path.resolve(__dirname, '..', '..', 'miniprogram')
const api = require(path.join(MINIPROGRAM, 'utils/api.js'))
const SCREEN_WIDTH_PX = 375 // 750 rpx

// miniprogram-simulate expects a browser: give it jsdom's before it loads.
const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { pretendToBeVisual: true })
for (const name of ['window', 'document']) global[name] = name === 'window' ? dom.window : dom.window.document
for (const name of ['Element', 'HTMLElement', 'Node', 'Event', 'CustomEvent', 'MutationObserver']) global[name] = dom.window[name]

const simulate = require('miniprogram-simulate')
const simulateWxss = require('miniprogram-simulate/src/wxss')
const jComponent = require('j-component')

// miniprogram-simulate registers built-in components as bare slots; a button keeps its
// type, size and state here as classes, so the HTML can look like WeChat's button.
jComponent.register({
  id: 'button',
  tagName: 'wx-button',
  properties: { type: { type: String, value: 'default' }, size: { type: String, value: 'default' }, disabled: { type: Boolean, value: false }, loading: { type: Boolean, value: false } },
  template: '<view class="wx-button wx-button-{{type}} wx-button-{{size}} {{disabled ? \'wx-button-disabled\' : \'\'}}"><slot/></view>'
})

const TAG = 'main' // miniprogram-simulate prefixes the page's classes with its tag name

// Render a page and run its onLoad(query) and onShow() like the framework. -> component
async function renderPage(route, query) {
  const id = simulate.load(path.join(MINIPROGRAM, route), TAG, { rootPath: MINIPROGRAM})
  const page = simulate.render(id)
  const parent = document.createElement('parent-wrapper')
  document.body.appendChild(parent)
  page.attach(parent)
  page.route = route
  if (page.instance.onLoad) await page.instance.onLoad(Object.assign({}, query))
  if (page.instance.onShow) await page.instance.onShow()
  return page
}

// A shopper (a new install, in this language) with an unpaid order and a paid one, made
// through the mini program's own API client against the backend config.js names; the
// simulator at sandboxUrl plays the user paying. -> {first, second, unpaid, paid}
async function shopperWithOrders(sandboxUrl, language) {
  global.wx = createWx({ language })
  const [first, second] = await api.listProducts()
  const unpaid = (await api.createOrder([{ product_id: first.id, quantity: 1 }], 'shopper-unpaid-' + language)).order
  const paid = await paidOrder(sandboxUrl, [{ product_id: first.id, quantity: 2 }, { product_id: second.id, quantity: 1 }], 'shopper-paid-' + language)
  return { first, second, unpaid, paid }
}

// An order of these items, paid in the simulator; -> the order once the backend says PAID.
async function paidOrder(sandboxUrl, items, idempotencyKey) {
  const created = await api.createOrder(items, idempotencyKey)
  const prepayId = created.pay_params.package.replace(/^prepay_id=/, '')
  const response = await fetch(sandboxUrl + '/sandbox/pay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prepay_id: prepayId, action: 'pay' }) })
  if (!response.ok) throw new Error('the simulator did not pay: ' + response.status)
  return orderOnceThe(created.order.id, (order) => order.status === 'PAID')
}

async function orderOnceThe(orderId, done) {
  let order = await api.getOrder(orderId)
  for (let i = 0; i < 50 && !done(order); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    order = await api.getOrder(orderId)
  }
  if (!done(order)) throw new Error('order ' + orderId + ' did not reach the expected state: ' + JSON.stringify(order))
  return order
}

// The user's reason for a refund and the shop's note approving it, in each language.
const AFTER_SALE = {
  zh_CN: { reason: '拿错了口味', note: '已原路退回，抱歉' },
  en: { reason: 'Wrong flavour', note: 'Sorry about that' }
}

// After shopperWithOrders, the same shopper's orders after the payment, made by the mini
// program's API and the shop's CLI (stack.flask): one of `product`, refunded in full at the
// user's request (AFTER_SALE), one shipped by express and marked shipped by WeChat.
// -> {refunded, shipped}
async function afterSaleOrders(stack, product, language) {
  const { reason, note } = AFTER_SALE[language]
  const items = [{ product_id: product.id, quantity: 1 }]
  let refunded = await paidOrder(stack.sandbox, items, 'shopper-refunded')
  const { refund_request: request } = await api.requestRefund(refunded.id, reason)
  stack.flask('refund-requests', 'approve', String(request.id), '--note', note)
  refunded = await orderOnceThe(refunded.id, (order) => order.status === 'REFUNDED')
  let shipped = await paidOrder(stack.sandbox, items, 'shopper-shipped')
  stack.flask('shipping', 'ship', String(shipped.id), '--logistics', 'express', '--package', 'ZT1234567890:ZTO')
  shipped = await orderOnceThe(shipped.id, (order) => Boolean(order.shipping && order.shipping.wechat_state === 2))
  return { refunded, shipped }
}

function screenText(page) {
  return page.dom.textContent.replace(/\s+/g, ' ').trim()
}

// WXSS as the browser gets it: the page's classes prefixed as miniprogram-simulate renders
// them, `page` as the document body, rpx as px of a 375 px wide screen.
function browserCss(wxss) {
  return simulateWxss.compile(wxss, { prefix: TAG })
    .replace(/(^|[},\s])page(?=[\s{,])/g, '$1body')
    .replace(/(-?\d*\.?\d+)rpx/g, (all, n) => +(Number(n) * SCREEN_WIDTH_PX / 750).toFixed(2) + 'px')
}

// Approximations of WeChat's built-in components (style v2) and system font.
const BUILT_IN_CSS = `
  html, body { margin: 0; }
  body { font-family: -apple-system, "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }
  wx-view, main, parent-wrapper { display: block; }
  wx-text { display: inline; }
  wx-button { display: block; }
  .wx-button { display: block; box-sizing: border-box; width: 184px; margin: 8px auto; padding: 8px 24px; border-radius: 8px;
    font-size: 17px; font-weight: 700; line-height: 1.41; text-align: center; background: #f2f2f2; color: #06ae56; }
  .wx-button-primary { background: #07c160; color: #ffffff; }
  .wx-button-mini { display: inline-block; width: auto; margin: 0; padding: 0 12px; font-size: 13px; line-height: 2.3; border-radius: 4px; }
  .wx-button-disabled { opacity: 0.4; }
  wx-button:has(.wx-button-mini) { display: inline-block; }
  [class*="footer-btn"] > .wx-button { width: auto; margin: 0; }
`

// A standalone HTML document for the rendered page.
function pageHtml(page, title) {
  const wxss = ['app.wxss', page.route + '.wxss'].map((file) => fs.readFileSync(path.join(MINIPROGRAM, file), 'utf8')).join('\n')
  return '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=' + SCREEN_WIDTH_PX + '">' +
    '<title>' + (title || page.route) + '</title>' +
    '<style>' + BUILT_IN_CSS + browserCss(wxss) + '</style></head><body>' + page.dom.outerHTML + '</body></html>'
}

module.exports = {
  MINIPROGRAM,
  SCREEN_WIDTH_PX,
  renderPage,
  shopperWithOrders,
  AFTER_SALE,
  afterSaleOrders,
  screenText,
  pageHtml
}
