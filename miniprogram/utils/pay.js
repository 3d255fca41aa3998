// Payment: hand the server's pay_params to WeChat's cashier, then ask the SERVER whether the
// order is paid. The cashier's "ok" is only a hint (WeChat says so itself); the order is
// paid when the server has a verified notification or query result.
const i18n = require('../i18n/index')
const api = require('./api')
const dialog = require('./dialog')
const sandbox = require('./sandbox')

class PaymentError extends Error {
  constructor(message, cancelled) {
    super(message)
    this.name = 'PaymentError'
    this.cancelled = cancelled
  }
}

// Waits between order reads after the cashier said ok: about 60 s in all, then the page
// shows "still confirming" with a refresh button. Replaceable (tests shorten it).
const POLL_DELAYS_MS = [1000, 2000, 3000, 5000, 5000, 8000, 8000, 8000, 10000, 10000]

// Orders whose payment WeChat's cashier accepted and the server has not confirmed yet:
// order id -> when the cashier said ok. An order page opened meanwhile (from "View order",
// or from the order list) keeps asking the server instead of showing "awaiting payment".
const CONFIRMING_KEY = 'confirming'

function confirmingSince() {
  return wx.getStorageSync(CONFIRMING_KEY) || {}
}

function markConfirming(orderId, confirming) {
  const marks = confirmingSince()
  if (confirming) marks[orderId] = Date.now()
  else delete marks[orderId]
  wx.setStorageSync(CONFIRMING_KEY, marks)
}

// Still worth polling for: the cashier said ok within one polling budget.
function isConfirming(orderId) {
  const since = confirmingSince()[orderId]
  const budget = module.exports.pollDelaysMs.reduce((sum, ms) => sum + ms, 0)
  return Boolean(since) && Date.now() - since < budget
}

function failureFromErrMsg(errMsg) {
  // "requestPayment:fail cancel"; WeChat 6.5.2 and older said "requestPayment:cancel".
  if (errMsg === 'requestPayment:fail cancel' || errMsg === 'requestPayment:cancel') {
    return new PaymentError('requestPayment: cancelled', true)
  }
  const reason = (errMsg || '').replace(/^requestPayment:fail ?/, '') || 'unknown error'
  return new PaymentError(reason, false)
}

function wechatCashier(payParams) {
  return new Promise((resolve, reject) => {
    // Exactly the server's parameters: they are signed, any change breaks the signature.
    wx.requestPayment(Object.assign({}, payParams, {
      success: resolve,
      fail(res) {
        reject(failureFromErrMsg(res.errMsg))
      }
    }))
  })
}

// Development stand-in for WeChat's cashier: a confirm dialog, then the simulator plays the
// user paying or cancelling. Same outcomes as the real cashier.
async function simulatorCashier(payParams) {
  let confirmed
  try {
    confirmed = await dialog.ask({
      title: i18n.text('payment.simulatorTitle'),
      content: i18n.text('payment.simulatorContent'),
      confirmText: i18n.text('payment.simulatorConfirm'),
      cancelText: i18n.text('payment.simulatorCancel')
    })
  } catch (err) {
    throw new PaymentError(err.message, false)
  }
  const action = confirmed ? 'pay' : 'cancel'
  try {
    await sandbox.cashier(payParams, action)
  } catch (err) {
    // A refused paySign fails as wx.requestPayment would ("requestPayment:fail ...").
    const errMsg = err.details && err.details.errMsg
    throw errMsg ? failureFromErrMsg(errMsg) : new PaymentError(err.message, false)
  }
  if (action === 'cancel') throw new PaymentError('simulator: cancelled', true)
  return { errMsg: 'requestPayment:ok' }
}

// Resolves when the cashier says ok; rejects with PaymentError (err.cancelled for a user
// cancel; err.message has WeChat's reason, for developers, never shown to users).
function requestPayment(payParams) {
  return sandbox.enabled() ? simulatorCashier(payParams) : wechatCashier(payParams)
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Read the order until the server says it is no longer NOTPAY, with back-off.
// -> {state: 'paid' | 'closed' | 'unconfirmed' | 'stopped', order}
// A failed read (network blip) is not fatal: the next round tries again.
async function waitUntilPaid(orderId, options) {
  const shouldStop = (options && options.shouldStop) || (() => false)
  let order = null
  for (const delay of module.exports.pollDelaysMs) {
    await sleep(delay)
    if (shouldStop()) return { state: 'stopped', order }
    try {
      order = await api.getOrder(orderId)
    } catch (err) {
      continue
    }
    if (order.status === 'PAID' || order.status === 'CLOSED') {
      markConfirming(orderId, false)
      return { state: order.status === 'PAID' ? 'paid' : 'closed', order }
    }
  }
  return { state: 'unconfirmed', order }
}

// The whole client-side payment: cashier, then confirmation from the server.
// hooks.onConfirming() runs when the cashier said ok and polling starts.
// -> {state: 'paid'|'closed'|'unconfirmed'|'stopped'|'cancelled'|'failed', order, message}
async function payAndConfirm(orderId, payParams, hooks) {
  hooks = hooks || {}
  try {
    await requestPayment(payParams)
  } catch (err) {
    if (err.cancelled) return { state: 'cancelled', order: null, message: err.message }
    return { state: 'failed', order: null, message: err.message }
  }
  markConfirming(orderId, true)
  if (hooks.onConfirming) hooks.onConfirming()
  return waitUntilPaid(orderId, hooks)
}

module.exports = {
  PaymentError,
  pollDelaysMs: POLL_DELAYS_MS,
  isConfirming,
  requestPayment,
  waitUntilPaid,
  payAndConfirm
}
