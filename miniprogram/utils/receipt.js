// Confirm receipt of a shipped order in WeChat's own component (wx.openBusinessView with
// businessType 'weappOrderConfirm'); in development the simulator stands in for it, as
// sandbox.js does for the cashier. Like the cashier's, the component's answer is only a hint:
// the page then has the server ask WeChat (POST /api/orders/<id>/shipping/sync).
const i18n = require('../i18n/index')
const dialog = require('./dialog')
const sandbox = require('./sandbox')

// order: an orderView with shipping. -> 'done' | 'cancelled' | 'unsupported' (the base
// library has no openBusinessView: the page says to update WeChat).
async function confirmReceipt(order) {
  if (sandbox.enabled()) return simulatorComponent(order)
  if (!wx.canIUse('openBusinessView')) return 'unsupported'
  return new Promise((resolve) => {
    wx.openBusinessView({
      businessType: 'weappOrderConfirm',
      extraData: {
        merchant_id: order.shipping.merchantId,
        merchant_trade_no: order.outTradeNo,
        transaction_id: order.shipping.transactionId
      },
      success: () => resolve('done'),
      // Closed by the user, or it failed: either way the server is asked what WeChat knows.
      fail: () => resolve('cancelled')
    })
  })
}

// Development: a confirm dialog, then the simulator plays the user confirming receipt (it
// settles the order and pushes that to the backend, as WeChat does).
async function simulatorComponent(order) {
  const confirmed = await dialog.ask({
    title: i18n.text('shipping.simulatorTitle'),
    content: i18n.text('shipping.simulatorContent'),
    confirmText: i18n.text('shipping.simulatorConfirm'),
    cancelText: i18n.text('shipping.simulatorCancel')
  })
  if (!confirmed) return 'cancelled'
  await sandbox.confirmReceipt(order.shipping.transactionId)
  return 'done'
}

module.exports = { confirmReceipt }
