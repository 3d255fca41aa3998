// What the pages show for an order: the server's fields plus display text in the user's
// language. Amounts stay fen in the data and are formatted here, once.
const i18n = require('../i18n/index')
const money = require('./money')
const addresses = require('./address')

function pad2(n) {
  return (n < 10 ? '0' : '') + n
}

// "2026-11-22T04:34:56.123456+00:00" -> milliseconds since the epoch (NaN if unparseable).
// Parsed by hand: some JavaScript engines in WeChat reject the microseconds Date() would
// need to accept.
function parseTime(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(iso || '')
  if (!m) return NaN
  const offsetMinutes = m[7] === 'Z' ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]))
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) -
    offsetMinutes * 60 * 1000
}

// -> "2026-11-22 12:34" on a phone set to China time. Unparseable input is shown as it came.
function localTime(iso) {
  if (!iso) return ''
  const ms = parseTime(iso)
  if (Number.isNaN(ms)) return String(iso)
  const date = new Date(ms)
  return date.getFullYear() + '-' + pad2(date.getMonth() + 1) + '-' + pad2(date.getDate()) +
    ' ' + pad2(date.getHours()) + ':' + pad2(date.getMinutes())
}

// An unpaid order past its time_expire cannot be paid any more, whether or not the close job
// has run yet: the server refuses to pay it, so the page must not offer it.
function isExpired(order, now) {
  return order.status === 'NOTPAY' && parseTime(order.time_expire) <= (now || Date.now())
}

// The 26-character out_trade_no is for support and WeChat's payment record: shown by its
// last 8 characters, copied whole (pages call wx.setClipboardData with outTradeNo).
function shortNumber(outTradeNo) {
  const text = String(outTradeNo || '')
  return text.length > 10 ? '…' + text.slice(-8) : text
}

// "手冲咖啡 等3件" / "Pour-over coffee and 1 more"; the server's description is English.
function summary(items, fallback) {
  if (!items || !items.length) return fallback || ''
  if (items.length === 1) return items[0].name
  const count = items.reduce((sum, item) => sum + item.quantity, 0)
  return i18n.text('orders.more', { name: items[0].name, count, more: items.length - 1 })
}

// The user may ask for a refund of a paid order until refund_request_until (null: the shop
// takes no requests here), while no request waits for the shop and money is left.
function canRequestRefund(order, now) {
  const requests = order.refund_requests || []
  return order.status === 'PAID' && parseTime(order.refund_request_until) > (now || Date.now()) &&
    !requests.some((r) => r.status === 'PENDING') && (order.refunded || 0) < order.total
}

// The latest request (the one the user cares about) and every refund, in the user's words.
function refundView(order, now) {
  const requests = order.refund_requests || []
  const latest = requests[requests.length - 1]
  return {
    canRequest: canRequestRefund(order, now),
    refundedText: order.refunded ? i18n.text('refund.refunded', { amount: money.formatFen(order.refunded) }) : '',
    request: latest ? {
      status: latest.status, // PENDING | APPROVED | REJECTED
      statusText: i18n.text('refund.requestStatus.' + latest.status) || latest.status,
      reasonText: i18n.text('refund.yourReason', { reason: latest.reason }),
      noteText: latest.note ? i18n.text('refund.shopNote', { note: latest.note }) : ''
    } : null,
    refunds: (order.refunds || []).map((refund) => ({
      id: refund.id,
      amountText: money.formatFen(refund.amount),
      status: refund.status,
      statusText: i18n.text('refund.refundStatus.' + refund.status) || refund.status
    }))
  }
}

// Shipping as the user sees it: WeChat's state in words (before WeChat has one, "the shop is
// preparing it"), how it comes, and each parcel's carrier and tracking number.
// canConfirm: WeChat says shipped, so its confirm-receipt component can take the receipt.
function shippingView(order) {
  const shipping = order.shipping
  if (!shipping) return null
  const state = shipping.wechat_state
  return {
    stateText: (state && i18n.text('shipping.state.' + state)) || i18n.text('shipping.preparing'),
    logisticsText: i18n.text('shipping.logistics.' + shipping.logistics_type),
    packages: (shipping.packages || []).filter((p) => p.tracking_no).map((p) => ({
      trackingNo: p.tracking_no,
      carrierText: i18n.text('shipping.carriers.' + p.express_company) || p.express_company || ''
    })),
    receivedText: localTime(shipping.received_at),
    canConfirm: shipping.status === 'SHIPPED' && state === 2,
    // What WeChat's confirm-receipt component is opened with.
    merchantId: shipping.merchant_id || '',
    transactionId: order.transaction_id || ''
  }
}

function orderView(order, now) {
  const expired = isExpired(order, now)
  const status = expired ? 'EXPIRED' : order.status
  return {
    id: order.id,
    outTradeNo: order.out_trade_no,
    shortNo: shortNumber(order.out_trade_no),
    status, // NOTPAY | PAID | CLOSED | REFUNDED | EXPIRED (the last one decided here)
    statusText: i18n.text('status.' + status) || status,
    payable: order.status === 'NOTPAY' && !expired,
    payByText: order.status === 'NOTPAY' && !expired ? localTime(order.time_expire) : '',
    summary: summary(order.items, order.description),
    totalText: money.formatFen(order.total),
    createdText: localTime(order.created_at),
    paidText: localTime(order.paid_at),
    refund: refundView(order, now),
    shipping: shippingView(order),
    // Where the goods go (name and masked phone, the address), and whether it may still
    // change: unpaid, or paid with nothing shipped (the server decides again).
    address: addresses.lines(order.address),
    canChangeAddress: Boolean(order.address) && ((order.status === 'NOTPAY' && !expired) || (order.status === 'PAID' && !order.shipping)),
    canCancel: order.status === 'NOTPAY' && !expired,
    items: (order.items || []).map((item) => ({
      productId: item.product_id,
      name: item.name,
      quantity: item.quantity,
      unitPriceText: money.formatFen(item.unit_price),
      amountText: money.formatFen(item.amount)
    }))
  }
}

// The order list's tabs: which orders each shows.
const TABS = {
  all: () => true,
  unpaid: (view) => view.status === 'NOTPAY',
  paid: (view) => view.status === 'PAID' && !view.shipping,
  shipped: (view) => view.status === 'PAID' && Boolean(view.shipping),
  refunds: (view) => view.status === 'REFUNDED' || view.refund.refunds.length > 0 || Boolean(view.refund.request)
}

module.exports = {
  TABS,
  parseTime,
  localTime,
  isExpired,
  shortNumber,
  orderView
}
