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
// address: {name, phone, province, city, district, detail} (see utils/address.js), required
// when a product ships.
function createOrder(items, idempotencyKey, address) {
  const data = { items }
  if (address) data.address = address
  return request({
    path: '/api/orders',
    method: 'POST',
    data,
    header: { 'Idempotency-Key': idempotencyKey }
  })
}

// Send the goods elsewhere, while the order is unpaid or paid and not shipped. -> order
function changeAddress(orderId, address) {
  return request({ path: '/api/orders/' + orderId + '/address', method: 'PUT', data: { address } })
    .then((body) => body.order)
}

// Cancel an unpaid order: the server closes it with WeChat Pay first. -> order
function cancelOrder(orderId) {
  return request({ path: '/api/orders/' + orderId + '/cancel', method: 'POST', data: {} })
    .then((body) => body.order)
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
  changeAddress,
  cancelOrder,
  listOrders,
  getOrder,
  payOrder,
  requestRefund,
  syncShipping
}
