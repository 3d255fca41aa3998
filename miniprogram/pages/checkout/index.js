const i18n = require('../../i18n/index')
const api = require('../../utils/api')
const addresses = require('../../utils/address')
const cart = require('../../utils/cart')
const errors = require('../../utils/errors')
const money = require('../../utils/money')
const pay = require('../../utils/pay')
const { orderView } = require('../../utils/order-view')

// "3:2,5:1" (product id : quantity, from the product list) -> [{product_id, quantity}]
function parseCart(text) {
  return String(text || '')
    .split(',')
    .map((pair) => pair.split(':').map(Number))
    .filter(([id, quantity]) => Number.isSafeInteger(id) && Number.isSafeInteger(quantity) && quantity > 0)
    .map(([id, quantity]) => ({ product_id: id, quantity }))
}

// One key per checkout: every "create" attempt of this cart sends it, so however often the
// request is retried (lost answers included), the server creates one order.
function newCheckoutKey() {
  let random = ''
  while (random.length < 16) random += Math.floor(Math.random() * 0x100000000).toString(16)
  return 'checkout-' + Date.now().toString(36) + '-' + random.slice(0, 16)
}

Component({
  data: {
    t: {},
    state: 'loading', // loading | ready | empty | error
    errorMessage: '',
    retryable: false,
    emptyText: '',
    lines: [], // [{productId, name, quantity, priceText, amountText}]
    totalText: '',
    order: null, // orderView once the server has created the order
    payState: '', // see templates/states.wxml "payment"
    payError: '',
    busy: false,
    // Delivery, when a product ships: the address chosen (the server's fields), its two
    // lines as shown, and the form offered when the user declines wx.chooseAddress.
    needsAddress: false,
    address: null,
    addressLines: null,
    addressForm: false,
    form: { name: '', phone: '', province: '', city: '', district: '', detail: '' },
    region: [],
    formError: ''
  },

  methods: {
    onLoad(query) {
      i18n.applyTo(this, 'checkout')
      this.setData({ emptyText: i18n.text('checkout.empty') })
      this.cart = parseCart(query.cart)
      this.checkoutKey = newCheckoutKey()
      this.orderId = 0
      this.busy = false
      return this.load()
    },

    onUnload() {
      this.unloaded = true
    },

    onRetry() {
      return this.load()
    },

    // Show the cart with the server's current prices (a preview: the order is priced again
    // by the server when it is created).
    async load() {
      if (this.cart.length === 0) {
        this.setData({ state: 'empty' })
        return
      }
      this.setData({ state: 'loading', errorMessage: '' })
      try {
        const products = await api.listProducts()
        const lines = []
        for (const { product_id: productId, quantity } of this.cart) {
          const product = products.find((p) => p.id === productId)
          if (product) lines.push({ productId, name: product.name, quantity, price: product.price, ships: Boolean(product.ships) })
        }
        this.setData({
          state: lines.length ? 'ready' : 'empty',
          needsAddress: lines.some((line) => line.ships),
          totalText: money.formatFen(money.totalFen(lines)),
          lines: lines.map((line) => ({
            productId: line.productId,
            name: line.name,
            quantity: line.quantity,
            priceText: money.formatFen(line.price),
            amountText: money.formatFen(line.price * line.quantity)
          }))
        })
        this.cart = lines.map((line) => ({ product_id: line.productId, quantity: line.quantity }))
      } catch (err) {
        const { message, retryable } = errors.describe(err)
        this.setData({ state: 'error', errorMessage: message, retryable })
      }
    },

    // Create the order (first tap) or get fresh pay_params for it (after a cancel or
    // failure), then pay. this.busy is set synchronously, so a double tap cannot create two
    // orders.
    async onPay() {
      if (this.busy) return
      // Goods that ship need an address before the order is created (the server would
      // refuse it: ADDRESS_REQUIRED).
      if (this.data.needsAddress && !this.data.address && !this.orderId) {
        await this.onChooseAddress()
        if (!this.data.address) {
          this.setData({ payState: 'error', payError: i18n.text('checkout.addressNeeded') })
          return
        }
      }
      this.busy = true
      this.setData({ busy: true, payState: this.orderId ? 'paying' : 'creating', payError: '' })
      try {
        const created = this.orderId
          ? await api.payOrder(this.orderId)
          : await api.createOrder(this.cart, this.checkoutKey, this.data.needsAddress ? this.data.address : null)
        this.orderId = created.order.id
        this.setData({ order: orderView(created.order), totalText: money.formatFen(created.order.total), payState: 'paying' })
        const outcome = await pay.payAndConfirm(this.orderId, created.pay_params, {
          onConfirming: () => this.setData({ payState: 'confirming' }),
          shouldStop: () => this.unloaded
        })
        this.showOutcome(outcome)
      } catch (err) {
        // WeChat failed after the server saved the order: the next tap pays that order
        // instead of creating another. (If even the answer was lost, the checkout key makes
        // the next create return the same order.)
        if (err.details && err.details.order_id) this.orderId = err.details.order_id
        this.setData({ payState: 'error', payError: errors.describe(err).message })
        // The server refused the address: let the user correct it in the form.
        if (['INVALID_ADDRESS', 'INVALID_PHONE', 'ADDRESS_REQUIRED'].includes(err.code)) this.openForm(this.data.address)
        // Paid, closed or expired meanwhile: show that instead.
        if (err.code === 'ORDER_NOT_PAYABLE') await this.refreshOrder()
      } finally {
        this.busy = false
        this.setData({ busy: false })
      }
    },

    showOutcome(outcome) {
      if (outcome.state === 'stopped') return
      const data = { payState: outcome.state }
      if (outcome.order) data.order = orderView(outcome.order)
      this.setData(data)
      // What was just bought leaves the cart: back on the product list it is empty.
      if (outcome.state === 'paid') cart.clear()
    },

    // "Still confirming" -> ask the server again.
    onRefresh() {
      return this.refreshOrder()
    },

    async refreshOrder() {
      try {
        const order = await api.getOrder(this.orderId)
        const view = orderView(order)
        const payState = { PAID: 'paid', CLOSED: 'closed', EXPIRED: 'expired' }[view.status] || this.data.payState
        this.setData({ order: view, payState })
        if (payState === 'paid') cart.clear()
      } catch (err) {
        this.setData({ payState: 'error', payError: errors.describe(err).message })
      }
    },

    // The user's WeChat addresses; declined (or refused the permission): the form.
    async onChooseAddress() {
      const chosen = await addresses.choose()
      if (chosen && !addresses.missingField(chosen)) this.useAddress(chosen)
      else this.openForm(chosen || this.data.address)
    },

    useAddress(address) {
      const cleared = this.data.payState === 'error' && !this.orderId ? { payState: '', payError: '' } : {}
      this.setData(Object.assign({ address, addressLines: addresses.lines(address), addressForm: false, formError: '' }, cleared))
    },

    openForm(address) {
      const form = Object.assign({ name: '', phone: '', province: '', city: '', district: '', detail: '' }, address || {})
      this.setData({ addressForm: true, form, region: form.province ? [form.province, form.city, form.district] : [] })
    },

    // <input data-field="name" bindinput="onFormInput">
    onFormInput(event) {
      this.setData({ ['form.' + event.currentTarget.dataset.field]: event.detail.value })
    },

    // <picker mode="region">: [province, city, district]
    onRegionChange(event) {
      const [province, city, district] = event.detail.value
      this.setData({ region: event.detail.value, 'form.province': province, 'form.city': city, 'form.district': district || '' })
    },

    onUseForm() {
      const form = this.data.form
      const missing = addresses.missingField(form)
      if (missing) {
        this.setData({ formError: i18n.text('checkout.fieldMissing.' + missing) })
        return
      }
      this.useAddress(Object.assign({}, form))
    },

    onViewOrder() {
      wx.redirectTo({ url: '/pages/order/index?id=' + this.orderId })
    }
  }
})
