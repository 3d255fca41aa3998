// The cart: product id -> quantity, kept in storage. It outlives the product list's
// pull-to-refresh and a trip to the checkout and back, and it is emptied once its order is
// paid, so coming back after paying never offers the same items again.
const CART_KEY = 'cart'
const MAX_QUANTITY = 99

function quantities() {
  return wx.getStorageSync(CART_KEY) || {}
}

function setQuantity(productId, quantity) {
  const cart = quantities()
  quantity = Math.min(MAX_QUANTITY, Math.max(0, quantity))
  if (quantity > 0) cart[productId] = quantity
  else delete cart[productId]
  wx.setStorageSync(CART_KEY, cart)
  return quantity
}

function clear() {
  wx.removeStorageSync(CART_KEY)
}

module.exports = {
  MAX_QUANTITY,
  quantities,
  setQuantity,
  clear
}
