// Pages are built with Component() (WeChat supports it for pages: lifecycle methods go in
// `methods`), which is what lets miniprogram-simulate render them in tests.
const i18n = require('../../i18n/index')
const api = require('../../utils/api')
const cart = require('../../utils/cart')
const errors = require('../../utils/errors')
const money = require('../../utils/money')

Component({
  data: {
    t: {}, // texts in the user's language (i18n/)
    state: 'loading', // loading | ready | empty | error
    errorMessage: '',
    retryable: false,
    emptyText: '',
    products: [], // [{id, name, description, price (fen), priceText, quantity}]
    // A service provider's shop: its stores, and the one shown. A checkout is one store's
    // (docs/provider.md): only the shown store's products go to the checkout.
    stores: [], // [{name, title}]
    store: '',
    itemCount: 0,
    totalText: money.formatFen(0)
  },

  methods: {
    onLoad() {
      i18n.applyTo(this, 'products')
      this.setData({ emptyText: i18n.text('products.empty') })
      return this.load()
    },

    // Back from the checkout or an order: a paid cart has been emptied meanwhile.
    onShow() {
      if (this.data.state === 'ready') this.showCart()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    onRetry() {
      return this.load()
    },

    async load() {
      if (!this.data.products.length) this.setData({ state: 'loading', errorMessage: '' })
      try {
        const stores = await api.listStores()
        const store = stores.some((s) => s.name === this.data.store)
          ? this.data.store
          : (stores[0] || {}).name || ''
        this.setData({ stores, store })
        const products = await api.listProducts(store)
        this.setData({
          state: products.length ? 'ready' : 'empty',
          products: products.map((p) => ({
            id: p.id,
            name: p.name,
            description: p.description,
            imageUrl: p.image ? p.image.medium : '',
            ships: Boolean(p.ships),
            price: p.price,
            priceText: money.formatFen(p.price),
            quantity: 0
          }))
        })
        this.showCart()
      } catch (err) {
        const { message, retryable } = errors.describe(err)
        this.setData({ state: 'error', errorMessage: message, retryable })
      }
    },

    onStore(e) {
      this.setData({ store: e.currentTarget.dataset.store, products: [] })
      return this.load()
    },

    // Quantities come from the cart (utils/cart.js), so a refreshed list keeps them.
    showCart() {
      const quantities = cart.quantities()
      this.setData({ products: this.data.products.map((p) => Object.assign({}, p, { quantity: quantities[p.id] || 0 })) })
      this.updateTotal()
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
      const quantity = cart.setQuantity(product.id, product.quantity + delta)
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
      const chosen = this.data.products
        .filter((p) => p.quantity > 0)
        .map((p) => p.id + ':' + p.quantity)
        .join(',')
      if (!chosen) return
      wx.navigateTo({ url: '/pages/checkout/index?cart=' + chosen })
    },

    onMyOrders() {
      wx.navigateTo({ url: '/pages/orders/index' })
    }
  }
})
