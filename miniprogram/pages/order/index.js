const api = require('../../utils/api')
const http = require('../../utils/http')
const pay = require('../../utils/pay')
const { orderView } = require('../../utils/order-view')

Page({
  data: {
    state: 'loading', // loading | ready | error
    errorMessage: '',
    emptyText: '',
    order: null, // orderView
    payState: '', // see templates/states.wxml "payment"
    payError: '',
    busy: false
  },

  onLoad(query) {
    this.orderId = Number(query.id)
    this.busy = false
    return this.load()
  },

  onUnload() {
    this.unloaded = true
  },

  onPullDownRefresh() {
    return this.load().then(() => wx.stopPullDownRefresh())
  },

  onRetry() {
    return this.load()
  },

  async load() {
    this.setData({ state: this.data.order ? 'ready' : 'loading', errorMessage: '' })
    try {
      const order = await api.getOrder(this.orderId)
      this.setData({ state: 'ready', order: orderView(order) })
      return order
    } catch (err) {
      this.setData({ state: 'error', errorMessage: http.friendlyMessage(err) })
      return null
    }
  },

  // Pay (again) an unpaid order: fresh pay_params from the server, then the cashier.
  async onPay() {
    if (this.busy) return
    this.busy = true
    this.setData({ busy: true, payState: 'paying', payError: '' })
    try {
      const { order, pay_params: payParams } = await api.payOrder(this.orderId)
      this.setData({ order: orderView(order) })
      const outcome = await pay.payAndConfirm(this.orderId, payParams, {
        onConfirming: () => this.setData({ payState: 'confirming' }),
        shouldStop: () => this.unloaded
      })
      if (outcome.state !== 'stopped') {
        const data = { payState: outcome.state, payError: outcome.message || '' }
        if (outcome.order) data.order = orderView(outcome.order)
        this.setData(data)
      }
    } catch (err) {
      this.setData({ payState: 'error', payError: http.friendlyMessage(err) })
      // Paid or closed meanwhile (a late notification, another device): show that instead.
      if (err.code === 'ORDER_NOT_PAYABLE') await this.onRefresh()
    } finally {
      this.busy = false
      this.setData({ busy: false })
    }
  },

  // "Still confirming" -> ask the server again.
  async onRefresh() {
    const order = await this.load()
    if (order && order.status === 'PAID') this.setData({ payState: 'paid' })
    if (order && order.status === 'CLOSED') this.setData({ payState: 'closed' })
  }
})
