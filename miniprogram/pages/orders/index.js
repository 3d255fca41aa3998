const i18n = require('../../i18n/index')
const api = require('../../utils/api')
const errors = require('../../utils/errors')
const { orderView, TABS } = require('../../utils/order-view')

const TAB_NAMES = Object.keys(TABS) // all, unpaid, paid, shipped, refunds

Component({
  data: {
    t: {},
    state: 'loading', // loading | ready | empty | error
    errorMessage: '',
    retryable: false,
    emptyText: '',
    orders: [], // [orderView] of the tab, newest first
    tabs: [], // [{name, text, active}]
    tab: 'all',
    tabEmpty: false // the user has orders, none in this tab
  },

  methods: {
    onLoad(query) {
      i18n.applyTo(this, 'orders')
      this.all = []
      this.setData({ emptyText: i18n.text('orders.empty') })
      this.showTab(TAB_NAMES.includes(query && query.tab) ? query.tab : 'all')
    },

    onTab(event) {
      this.showTab(event.currentTarget.dataset.tab)
    },

    // The orders of one tab, from the list the server gave (its latest 100).
    showTab(tab) {
      const orders = this.all.filter(TABS[tab])
      this.setData({
        tab,
        tabs: TAB_NAMES.map((name) => ({ name, text: i18n.text('orders.tabs.' + name), active: name === tab })),
        orders,
        tabEmpty: this.all.length > 0 && orders.length === 0
      })
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
      if (!this.all.length) this.setData({ state: 'loading', errorMessage: '' })
      try {
        const orders = await api.listOrders()
        this.all = orders.map((order) => orderView(order))
        this.setData({ state: orders.length ? 'ready' : 'empty' })
        this.showTab(this.data.tab)
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
