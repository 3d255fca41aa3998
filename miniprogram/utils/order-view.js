// What the pages show for an order: the server's fields plus display text. Amounts stay fen
// in the data and are formatted here, once.
const money = require('./money')

const STATUS_TEXT = {
  NOTPAY: 'Awaiting payment',
  PAID: 'Paid',
  CLOSED: 'Closed'
}

function pad2(n) {
  return (n < 10 ? '0' : '') + n
}

// "2026-11-22T04:34:56.123456+00:00" -> "2026-11-22 12:34" on a phone set to China time.
// Parsed by hand: some JavaScript engines in WeChat reject the microseconds Date() would
// need to accept. Unparseable input is shown as it came.
function localTime(iso) {
  if (!iso) return ''
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(iso)
  if (!m) return String(iso)
  const offsetMinutes = m[7] === 'Z' ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]))
  const utcMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
  const date = new Date(utcMs - offsetMinutes * 60 * 1000)
  return date.getFullYear() + '-' + pad2(date.getMonth() + 1) + '-' + pad2(date.getDate()) +
    ' ' + pad2(date.getHours()) + ':' + pad2(date.getMinutes())
}

function orderView(order) {
  return {
    id: order.id,
    outTradeNo: order.out_trade_no,
    status: order.status,
    statusText: STATUS_TEXT[order.status] || order.status,
    payable: order.status === 'NOTPAY',
    description: order.description,
    totalText: money.formatFen(order.total),
    createdText: localTime(order.created_at),
    paidText: localTime(order.paid_at),
    items: (order.items || []).map((item) => ({
      productId: item.product_id,
      name: item.name,
      quantity: item.quantity,
      unitPriceText: money.formatFen(item.unit_price),
      amountText: money.formatFen(item.amount)
    }))
  }
}

module.exports = {
  localTime,
  orderView
}
