const i18n = require('../../i18n/index')
const api = require('../../utils/api')
const errors = require('../../utils/errors')
const { orderView } = require('../../utils/order-view')

Component({
  data: {
    t: {},
    state: 'loading', // loading | ready | empty | error
    errorMessage: '',
    retryable: false,
    emptyText: '',
    orders: [] // [orderView], newest first
  },

  methods: {
    onLoad() {
      i18n.applyTo(this, 'orders')
      this.setData({ emptyText: i18n.text('orders.empty') })
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
        this.setData({ state: orders.length ? 'ready' : 'empty', orders: orders.map((order) => orderView(order)) })
      } catch (err) {
        const { message, retryable } = errors.describe(err)
        this.setData({ state: 'error', errorMessage: message, retryable })
      }
    },

    onOpenOrder(e) {
      wx.navigateTo({ url: '/pages/order/index?id=' + e.currentTarget.dataset.id })
    },

    onShop() {
      wx.reLaunch({ url: '/pages/products/index' })
    }
  }
})
