const api = require('../../utils/api')
const http = require('../../utils/http')
const { orderView } = require('../../utils/order-view')

Page({
  data: {
    state: 'loading', // loading | ready | empty | error
    errorMessage: '',
    emptyText: 'No orders yet.',
    orders: [] // [orderView], newest first
  },

  // onShow, not onLoad: coming back from an order page shows its new status.
  onShow() {
    return this.load()
  },

  onPullDownRefresh() {
    return this.load().then(() => wx.stopPullDownRefresh())
  },

  onRetry() {
    return this.load()
  },

  async load() {
    if (!this.data.orders.length) this.setData({ state: 'loading', errorMessage: '' })
    try {
      const orders = await api.listOrders()
      this.setData({ state: orders.length ? 'ready' : 'empty', orders: orders.map(orderView) })
    } catch (err) {
      this.setData({ state: 'error', errorMessage: http.friendlyMessage(err) })
    }
  },

  onOpenOrder(e) {
    wx.navigateTo({ url: '/pages/order/index?id=' + e.currentTarget.dataset.id })
  },

  onShop() {
    wx.reLaunch({ url: '/pages/products/index' })
  }
})
