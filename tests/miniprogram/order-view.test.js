const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { createWx } = require('./wx-shim')

global.wx = createWx({ language: 'en' })
const { localTime, orderView } = require(path.join(__dirname, '..', '..', 'miniprogram', 'utils', 'order-view.js'))

function inZone(zone, fn) {
  const saved = process.env.TZ
  process.env.TZ = zone
  try {
    fn()
  } finally {
    if (saved === undefined) delete process.env.TZ
    else process.env.TZ = saved
  }
}

test('localTime shows the server time in the phone time zone', () => {
  inZone('Asia/Shanghai', () => {
    assert.equal(localTime('2026-11-22T04:32:19.780436+00:00'), '2026-11-22 12:32')
    assert.equal(localTime('2026-11-22T12:32:20+08:00'), '2026-11-22 12:32')
    assert.equal(localTime('2026-12-31T16:00:00Z'), '2027-01-01 00:00')
  })
  inZone('UTC', () => {
    assert.equal(localTime('2026-11-22T12:32:20+08:00'), '2026-11-22 04:32')
    assert.equal(localTime('2026-11-22T00:30:00-05:30'), '2026-11-22 06:00')
  })
  assert.equal(localTime(null), '')
  assert.equal(localTime('yesterday'), 'yesterday')
})

test('orderView formats amounts from fen and says what the status means', () => {
  const view = orderView({
    id: 7,
    out_trade_no: 'T1',
    status: 'NOTPAY',
    total: 3650,
    description: 'Coffee and more',
    items: [{ product_id: 1, name: 'Coffee', unit_price: 1800, quantity: 2, amount: 3600 }, { product_id: 4, name: 'Test', unit_price: 1, quantity: 50, amount: 50 }],
    created_at: '2026-11-22T04:32:19+00:00',
    paid_at: null
  })
  assert.equal(view.totalText, '¥36.50')
  assert.equal(view.statusText, 'Awaiting payment')
  assert.equal(view.payable, true)
  assert.equal(view.paidText, '')
  assert.deepEqual(view.items.map((item) => [item.unitPriceText, item.amountText]), [['¥18.00', '¥36.00'], ['¥0.01', '¥0.50']])
  assert.equal(orderView({ status: 'PAID', total: 1 }).payable, false)
})

test('refund: "Request a refund" only for a paid order, within refund_request_until, with nothing pending and money left', () => {
  const now = Date.parse('2026-11-22T04:00:00Z')
  const paid = { status: 'PAID', total: 1800, refunded: 0, refund_request_until: '2026-11-29T04:00:00+00:00', refund_requests: [], refunds: [] }
  assert.equal(orderView(paid, now).refund.canRequest, true)
  assert.equal(orderView(Object.assign({}, paid, { refund_request_until: null }), now).refund.canRequest, false, 'the shop takes no requests')
  assert.equal(orderView(paid, Date.parse('2026-11-29T04:00:01Z')).refund.canRequest, false, 'the window passed')
  assert.equal(orderView(Object.assign({}, paid, { refund_requests: [{ status: 'PENDING' }] }), now).refund.canRequest, false)
  assert.equal(orderView(Object.assign({}, paid, { refunded: 1800 }), now).refund.canRequest, false)
  assert.equal(orderView(Object.assign({}, paid, { status: 'REFUNDED' }), now).refund.canRequest, false)

  const refunded = orderView(Object.assign({}, paid, {
    status: 'REFUNDED',
    refunded: 1800,
    refund_requests: [{ status: 'REJECTED', note: 'Opened' }, { status: 'APPROVED', reason: 'Cold', note: '' }],
    refunds: [{ id: 1, amount: 600, status: 'SUCCESS' }, { id: 2, amount: 1200, status: 'ABNORMAL' }, { id: 3, amount: 5, status: 'NEWSTATE' }]
  }), now)
  assert.equal(refunded.statusText, 'Refunded')
  assert.equal(refunded.refund.refundedText, 'Refunded ¥18.00')
  assert.deepEqual(refunded.refund.request, { status: 'APPROVED', statusText: 'Approved by the shop', reasonText: 'Reason: Cold', noteText: '' })
  assert.deepEqual(refunded.refund.refunds.map((r) => [r.amountText, r.statusText]),
    [['¥6.00', 'Returned to you'], ['¥12.00', 'The refund ran into a problem; the shop will contact you'], ['¥0.05', 'NEWSTATE']])
  assert.equal(orderView({ status: 'PAID', total: 1 }).refund.refundedText, '')
})

test('shipping: WeChat\'s state in words, carriers by name, confirm only once WeChat says shipped', () => {
  const order = (shipping) => orderView({ status: 'PAID', total: 1, out_trade_no: 'T1', transaction_id: '42', shipping })
  assert.equal(order(null).shipping, null)
  const pending = order({ status: 'PENDING', logistics_type: 1, packages: [], wechat_state: null })
  assert.equal(pending.shipping.stateText, 'The shop is preparing your shipment')
  assert.equal(pending.shipping.canConfirm, false)
  const shipped = order({
    status: 'SHIPPED',
    logistics_type: 1,
    wechat_state: 2,
    merchant_id: '1900000001',
    packages: [{ tracking_no: 'SF1', express_company: 'SF' }, { tracking_no: 'X9', express_company: 'NEWCO' }, { item_desc: 'no tracking' }]
  })
  assert.deepEqual(shipped.shipping.packages, [{ trackingNo: 'SF1', carrierText: 'SF Express' }, { trackingNo: 'X9', carrierText: 'NEWCO' }])
  assert.deepEqual([shipped.shipping.stateText, shipped.shipping.logisticsText, shipped.shipping.canConfirm], ['Shipped', 'Express', true])
  assert.deepEqual([shipped.shipping.merchantId, shipped.shipping.transactionId], ['1900000001', '42'])
  const settled = order({ status: 'SHIPPED', logistics_type: 4, wechat_state: 4, packages: [], received_at: '2026-11-22T04:32:19+00:00' })
  assert.deepEqual([settled.shipping.stateText, settled.shipping.logisticsText, settled.shipping.canConfirm], ['Completed', 'Self-pickup', false])
  assert.ok(settled.shipping.receivedText)
})
