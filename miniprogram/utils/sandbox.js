// The local WeChat simulator's "user" endpoints. Development only: used when config.js names
// a simulator, in place of the WeChat client's own login code and cashier, which know
// nothing about the simulator.
const config = require('../config')
const http = require('./http')

const OPENID_KEY = 'sandbox_openid'

function enabled() {
  return Boolean(config.sandboxBaseUrl)
}

// One simulated WeChat user per install, like a real openid: kept in storage.
function installOpenid() {
  let openid = wx.getStorageSync(OPENID_KEY)
  if (!openid) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    openid = 'o'
    for (let i = 0; i < 27; i++) {
      openid += alphabet[Math.floor(Math.random() * alphabet.length)]
    }
    wx.setStorageSync(OPENID_KEY, openid)
  }
  return openid
}

// A login code the simulator's jscode2session will accept, as wx.login would give.
async function loginCode() {
  const body = await http.send({
    baseUrl: config.sandboxBaseUrl,
    path: '/sandbox/login-code',
    method: 'POST',
    data: { openid: installOpenid() }
  })
  return body.code
}

// Play the user at WeChat's cashier: action is 'pay' or 'cancel'. The simulator gets the very
// parameters wx.requestPayment would, and checks paySign as WeChat's client does.
function cashier(payParams, action) {
  return http.send({
    baseUrl: config.sandboxBaseUrl,
    path: '/sandbox/pay',
    method: 'POST',
    data: { pay_params: payParams, action }
  })
}

// Play the user in WeChat's confirm-receipt component: the simulator marks the order
// received and settled, and pushes that to the backend as WeChat would.
function confirmReceipt(transactionId) {
  return http.send({
    baseUrl: config.sandboxBaseUrl,
    path: '/sandbox/shipping/confirm',
    method: 'POST',
    data: { transaction_id: transactionId }
  })
}

module.exports = {
  enabled,
  loginCode,
  cashier,
  confirmReceipt
}
