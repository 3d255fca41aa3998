// The backend's mini program API, one function per endpoint (see the contract in docs/payments.md).
const request = require('./request')

// store: a service provider's store (listStores); omitted, every product.
function listProducts(store) {
  const path = store ? '/api/products?store=' + encodeURIComponent(store) : '/api/products'
  return request({ path }).then((body) => body.products)
}

// A service provider's stores ([{name, title}]); [] for a direct merchant's shop.
function listStores() {
  return request({ path: '/api/stores' }).then((body) => body.stores)
}

// items: [{product_id, quantity}]. The server prices the order from its own catalogue.
// -> {order, pay_params}
// The same idempotencyKey sent again (a retry after a network error) gets the same order
// back from the server instead of a second one. -> {order, pay_params}
function createOrder(items, idempotencyKey) {
  return request({
    path: '/api/orders',
    method: 'POST',
    data: { items },
    header: { 'Idempotency-Key': idempotencyKey }
  })
}

function listOrders() {
  return request({ path: '/api/orders' }).then((body) => body.orders)
}

function getOrder(orderId) {
  return request({ path: '/api/orders/' + orderId }).then((body) => body.order)
}

// Fresh wx.requestPayment parameters for an unpaid order. -> {order, pay_params}
function payOrder(orderId) {
  return request({ path: '/api/orders/' + orderId + '/pay', method: 'POST', data: {} })
}

// Ask the shop to refund a paid order. -> {refund_request, order}
function requestRefund(orderId, reason) {
  return request({ path: '/api/orders/' + orderId + '/refund-request', method: 'POST', data: { reason } })
}

// Have the server ask WeChat where the order's shipment stands (after the user confirmed
// receipt in WeChat's component). -> order
function syncShipping(orderId) {
  return request({ path: '/api/orders/' + orderId + '/shipping/sync', method: 'POST', data: {} })
    .then((body) => body.order)
}

module.exports = {
  listProducts,
  listStores,
  createOrder,
  listOrders,
  getOrder,
  payOrder,
  requestRefund,
  syncShipping
}
