const i18n = require('../../i18n/index')
const api = require('../../utils/api')
const errors = require('../../utils/errors')
const pay = require('../../utils/pay')
const { orderView, parseTime } = require('../../utils/order-view')

Component({
  data: {
    t: {},
    state: 'loading', // loading | ready | error
    errorMessage: '',
    retryable: false,
    emptyText: '',
    order: null, // orderView
    payState: '', // see templates/states.wxml "payment"
    payError: '',
    busy: false
  },

  methods: {
    async onLoad(query) {
      i18n.applyTo(this, 'order')
      this.orderId = Number(query.id)
      this.busy = false
      const order = await this.load()
      // Opened while a payment of this order is being confirmed (from the checkout's
      // "View order", or from the list): keep asking until the server settles it.
      if (order && order.status === 'NOTPAY' && pay.isConfirming(this.orderId)) {
        this.setData({ payState: 'confirming' })
        this.showOutcome(await pay.waitUntilPaid(this.orderId, { shouldStop: () => this.unloaded }))
      }
    },

    onUnload() {
      this.unloaded = true
      clearTimeout(this.expiryTimer)
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
        this.show(order)
        return order
      } catch (err) {
        const { message, retryable } = errors.describe(err)
        this.setData({ state: 'error', errorMessage: message, retryable })
        return null
      }
    },

    // Show the order; an unpaid one turns "expired" (and loses its Pay button) on the
    // minute its time_expire passes, with the page open.
    show(order) {
      this.setData({ state: 'ready', order: orderView(order) })
      clearTimeout(this.expiryTimer)
      if (this.data.order.payable && !this.unloaded) {
        const left = parseTime(order.time_expire) - Date.now()
        this.expiryTimer = setTimeout(() => this.show(order), Math.max(0, left) + 1000)
      }
    },

    showOutcome(outcome) {
      if (outcome.state === 'stopped') return
      this.setData({ payState: outcome.state })
      if (outcome.order) this.show(outcome.order)
    },

    // Pay (again) an unpaid order: fresh pay_params from the server, then the cashier.
    async onPay() {
      if (this.busy) return
      this.busy = true
      this.setData({ busy: true, payState: 'paying', payError: '' })
      try {
        const { order, pay_params: payParams } = await api.payOrder(this.orderId)
        this.show(order)
        this.showOutcome(await pay.payAndConfirm(this.orderId, payParams, {
          onConfirming: () => this.setData({ payState: 'confirming' }),
          shouldStop: () => this.unloaded
        }))
      } catch (err) {
        this.setData({ payState: 'error', payError: errors.describe(err).message })
        // Paid, closed or expired meanwhile: show that instead.
        if (err.code === 'ORDER_NOT_PAYABLE') await this.onRefresh()
      } finally {
        this.busy = false
        this.setData({ busy: false })
      }
    },

    // "Still confirming" -> ask the server again.
    async onRefresh() {
      const order = await this.load()
      const payState = order && { PAID: 'paid', CLOSED: 'closed', EXPIRED: 'expired' }[this.data.order.status]
      if (payState) this.setData({ payState })
    },

    // The whole out_trade_no, for support or to find the payment in WeChat's records.
    onCopyNumber() {
      wx.setClipboardData({ data: this.data.order.outTradeNo })
    }
  }
})
