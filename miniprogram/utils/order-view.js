// What the pages show for an order: the server's fields plus display text. Amounts stay fen
// in the data and are formatted here, once.
const money = require('./money')

const STATUS_TEXT = {
  NOTPAY: 'Awaiting payment',
  PAID: 'Paid',
  CLOSED: 'Closed'
}

// "2026-11-22T12:34:56+08:00" -> "2026-11-22 12:34"; shown as the server wrote it, no
// time zone arithmetic on the phone.
function shortTime(iso) {
  return iso ? String(iso).replace('T', ' ').slice(0, 16) : ''
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
    createdText: shortTime(order.created_at),
    paidText: shortTime(order.paid_at),
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
  orderView
}
