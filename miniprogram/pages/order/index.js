const i18n = require('../../i18n/index')
const api = require('../../utils/api')
const addresses = require('../../utils/address')
const errors = require('../../utils/errors')
const pay = require('../../utils/pay')
const dialog = require('../../utils/dialog')
const money = require('../../utils/money')
const receipt = require('../../utils/receipt')
const { orderView, parseTime, localTime } = require('../../utils/order-view')

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
    busy: false,
    refundForm: false, // the refund reason form is open
    reason: '',
    notice: '', // the outcome of a refund request or a receipt confirmation
    noticeKind: '', // success | error | '' (neutral)
    noticeRefresh: false // the notice offers "Refresh" (WeChat has not confirmed receipt yet)
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
      this.order = order
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

    onOpenRefundForm() {
      this.setData({ refundForm: true, notice: '' })
    },

    onCloseRefundForm() {
      this.setData({ refundForm: false })
    },

    onReasonInput(event) {
      this.setData({ reason: event.detail.value })
    },

    // Send the reason to the shop, after a confirmation saying what happens next.
    async onSubmitRefund() {
      if (this.busy) return
      const reason = this.data.reason.trim()
      if (!reason) {
        this.setData({ notice: i18n.text('refund.reasonMissing'), noticeKind: 'error', noticeRefresh: false })
        return
      }
      this.busy = true
      this.setData({ busy: true })
      try {
        const left = this.order.total - (this.order.refunded || 0)
        const confirmed = await dialog.ask({
          title: i18n.text('refund.confirmTitle'),
          content: i18n.text('refund.confirmContent', { amount: money.formatFen(left) }),
          confirmText: i18n.text('refund.confirmOk'),
          cancelText: i18n.text('refund.confirmCancel')
        })
        if (!confirmed) return
        const { order } = await api.requestRefund(this.orderId, reason)
        this.show(order)
        this.setData({ refundForm: false, reason: '', notice: i18n.text('refund.sent'), noticeKind: 'success', noticeRefresh: false })
      } catch (err) {
        const { message, retryable } = errors.describe(err)
        this.setData({ notice: message, noticeKind: 'error', noticeRefresh: false })
        // Requests turned off, the window passed, a request already waiting: the order as
        // the server has it now (the button goes away).
        if (!retryable) {
          this.setData({ refundForm: false })
          await this.load()
        }
      } finally {
        this.busy = false
        this.setData({ busy: false })
      }
    },

    // WeChat's confirm-receipt component (the simulator in development), then the server
    // asks WeChat what it recorded: only that changes the order.
    async onConfirmReceipt() {
      if (this.busy) return
      this.busy = true
      this.setData({ busy: true, notice: '' })
      try {
        const outcome = await receipt.confirmReceipt(this.data.order)
        if (outcome === 'unsupported') {
          this.setData({ notice: i18n.text('shipping.unsupported'), noticeKind: 'error', noticeRefresh: false })
        } else {
          await this.syncShipping(outcome === 'done')
        }
      } catch (err) {
        this.setData({ notice: errors.describe(err).message, noticeKind: 'error', noticeRefresh: false })
      } finally {
        this.busy = false
        this.setData({ busy: false })
      }
    },

    // "Refresh" under "WeChat has not confirmed yet".
    async onSyncShipping() {
      try {
        await this.syncShipping(true)
      } catch (err) {
        this.setData({ notice: errors.describe(err).message, noticeKind: 'error', noticeRefresh: false })
      }
    },

    // expectReceived: the user confirmed, so "not yet" is worth saying (and refreshing).
    async syncShipping(expectReceived) {
      this.setData({ notice: i18n.text('shipping.confirming'), noticeKind: '', noticeRefresh: false })
      const order = await api.syncShipping(this.orderId)
      this.show(order)
      // 3 receipt confirmed, 4 completed; 6 (funds awaiting settlement) does not say the user
      // confirmed, received_at does.
      const shipping = order.shipping || {}
      const received = [3, 4].includes(shipping.wechat_state) || Boolean(shipping.received_at)
      if (received) {
        this.setData({ notice: i18n.text('shipping.received'), noticeKind: 'success' })
      } else {
        this.setData({ notice: expectReceived ? i18n.text('shipping.unconfirmed') : '', noticeRefresh: expectReceived })
      }
    },

    // Another of the user's WeChat addresses, while the order is unpaid or not shipped.
    async onChangeAddress() {
      if (this.busy) return
      this.busy = true
      this.setData({ busy: true, notice: '' })
      try {
        const chosen = await addresses.choose()
        if (!chosen) return
        this.show(await api.changeAddress(this.orderId, chosen))
        this.setData({ notice: i18n.text('order.addressChanged'), noticeKind: 'success', noticeRefresh: false })
      } catch (err) {
        this.setData({ notice: errors.describe(err).message, noticeKind: 'error', noticeRefresh: false })
        if (err.code === 'ADDRESS_NOT_CHANGEABLE') await this.load()
      } finally {
        this.busy = false
        this.setData({ busy: false })
      }
    },

    // Cancel an unpaid order, after a confirmation: the server closes it with WeChat first.
    async onCancelOrder() {
      if (this.busy) return
      this.busy = true
      this.setData({ busy: true, notice: '' })
      try {
        const confirmed = await dialog.ask({
          title: i18n.text('order.cancelTitle'),
          content: i18n.text('order.cancelContent'),
          confirmText: i18n.text('order.cancelOk'),
          cancelText: i18n.text('order.cancelKeep')
        })
        if (!confirmed) return
        this.show(await api.cancelOrder(this.orderId))
        this.setData({ payState: '', notice: i18n.text('order.cancelled'), noticeKind: 'success', noticeRefresh: false })
      } catch (err) {
        const details = err.details || {}
        const message = details.reason === 'too_soon'
          ? i18n.text('order.cancelTooSoon', { time: localTime(details.cancellable_at) })
          : errors.describe(err).message
        this.setData({ notice: message, noticeKind: 'error', noticeRefresh: false })
        // Paid at the last moment, or closed meanwhile: show the order as it is now.
        if (err.code === 'ORDER_NOT_CANCELLABLE' && details.reason !== 'too_soon') await this.load()
      } finally {
        this.busy = false
        this.setData({ busy: false })
      }
    },

    onCopyTracking(event) {
      wx.setClipboardData({ data: event.currentTarget.dataset.no })
    },

    // The whole out_trade_no, for support or to find the payment in WeChat's records.
    onCopyNumber() {
      wx.setClipboardData({ data: this.data.order.outTradeNo })
    }
  }
})
