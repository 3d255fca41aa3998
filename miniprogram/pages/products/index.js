const api = require('../../utils/api')
const http = require('../../utils/http')
const money = require('../../utils/money')

const MAX_QUANTITY = 99

Page({
  data: {
    state: 'loading', // loading | ready | empty | error
    errorMessage: '',
    emptyText: 'No products for sale yet.',
    products: [], // [{id, name, description, price (fen), priceText, quantity}]
    itemCount: 0,
    totalText: money.formatFen(0)
  },

  onLoad() {
    return this.load()
  },

  onPullDownRefresh() {
    return this.load().then(() => wx.stopPullDownRefresh())
  },

  onRetry() {
    return this.load()
  },

  async load() {
    this.setData({ state: 'loading', errorMessage: '' })
    try {
      const products = await api.listProducts()
      this.setData({
        state: products.length ? 'ready' : 'empty',
        products: products.map((p) => ({
          id: p.id,
          name: p.name,
          description: p.description,
          price: p.price,
          priceText: money.formatFen(p.price),
          quantity: 0
        }))
      })
      this.updateTotal()
    } catch (err) {
      this.setData({ state: 'error', errorMessage: http.friendlyMessage(err) })
    }
  },

  onIncrease(e) {
    this.changeQuantity(e.currentTarget.dataset.index, 1)
  },

  onDecrease(e) {
    this.changeQuantity(e.currentTarget.dataset.index, -1)
  },

  changeQuantity(index, delta) {
    const product = this.data.products[index]
    if (!product) return
    const quantity = Math.min(MAX_QUANTITY, Math.max(0, product.quantity + delta))
    this.setData({ ['products[' + index + '].quantity']: quantity })
    this.updateTotal()
  },

  // The total shown here is a preview; the server prices the order itself.
  updateTotal() {
    const chosen = this.data.products.filter((p) => p.quantity > 0)
    this.setData({
      itemCount: chosen.reduce((sum, p) => sum + p.quantity, 0),
      totalText: money.formatFen(money.totalFen(chosen))
    })
  },

  onCheckout() {
    const cart = this.data.products
      .filter((p) => p.quantity > 0)
      .map((p) => p.id + ':' + p.quantity)
      .join(',')
    if (!cart) return
    wx.navigateTo({ url: '/pages/checkout/index?cart=' + cart })
  },

  onMyOrders() {
    wx.navigateTo({ url: '/pages/orders/index' })
  }
})
