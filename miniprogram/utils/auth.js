// Login: a code from wx.login (or from the simulator in development) is exchanged at
// POST /api/login for our backend's own expiring token. The token lives only in storage and
// in request headers: never in page data, never in logs.
const config = require('../config')
const http = require('./http')
const sandbox = require('./sandbox')

const TOKEN_KEY = 'auth'
// Renew a little before the server's expiry so a request never leaves with a dying token.
const EXPIRY_MARGIN_MS = 60 * 1000

let loginInFlight = null

function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success(res) {
        if (res.code) resolve(res.code)
        else reject(new http.ApiError('client', 'wx.login: ' + res.errMsg, 0, 'WX_LOGIN_FAILED'))
      },
      fail(res) {
        // errMsg ("login:fail timeout") is for developers; the code picks the user's text.
        reject(new http.ApiError('client', 'wx.login: ' + res.errMsg, 0, 'WX_LOGIN_FAILED'))
      }
    })
  })
}

function storedToken() {
  const saved = wx.getStorageSync(TOKEN_KEY)
  if (saved && saved.token && saved.expiresAt - EXPIRY_MARGIN_MS > Date.now()) {
    return saved.token
  }
  return ''
}

async function exchangeCode() {
  const code = sandbox.enabled() ? await sandbox.loginCode() : await wxLoginCode()
  const body = await http.send({
    baseUrl: config.apiBaseUrl,
    path: '/api/login',
    method: 'POST',
    data: { code }
  })
  wx.setStorageSync(TOKEN_KEY, {
    token: body.token,
    expiresAt: Date.now() + body.expires_in * 1000
  })
  return body.token
}

// Log in now. Callers arriving while a login is under way share it, so a page firing three
// requests at start-up spends one code, not three.
function login() {
  if (!loginInFlight) {
    const done = () => {
      loginInFlight = null
    }
    loginInFlight = exchangeCode().then(
      (token) => {
        done()
        return token
      },
      (err) => {
        done()
        throw err
      }
    )
  }
  return loginInFlight
}

// A usable token: the stored one, or a fresh login.
function getToken() {
  return storedToken() || login()
}

// The server refused `staleToken` (401). Log in again, unless a concurrent request already
// replaced that token, in which case use the replacement.
function renewToken(staleToken) {
  const current = storedToken()
  if (current && current !== staleToken) return Promise.resolve(current)
  wx.removeStorageSync(TOKEN_KEY)
  return login()
}

function logout() {
  wx.removeStorageSync(TOKEN_KEY)
}

module.exports = {
  login,
  getToken,
  renewToken,
  logout
}
