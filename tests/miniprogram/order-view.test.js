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
