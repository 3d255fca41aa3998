// What a user is told about a failed call, and whether trying again can help. The texts are
// in i18n/<language>.js under `errors`, one per code: the backend's stable error codes
// (server/api/, server/errors.py) plus the client's own (NETWORK, SERVER, WX_LOGIN_FAILED,
// UNKNOWN). The server's `message` is for developers and is never shown.
const i18n = require('../i18n/index')
const { ApiError } = require('./http')

// Codes for which the same request may succeed a moment later. Anything else (no such order,
// an order that can no longer be paid, a product gone from the shop) needs the user to do
// something else, so the page offers no "Try again".
const RETRYABLE = [
  'NETWORK',
  'SERVER',
  'UNKNOWN',
  'WX_LOGIN_FAILED',
  'INVALID_CODE',
  'UNAUTHORIZED',
  'RATE_LIMITED',
  'CONFLICT',
  'WECHAT_UNAVAILABLE',
  'WECHAT_ERROR',
  'WECHATPAY_UNAVAILABLE',
  'WECHATPAY_ERROR',
  'INTERNAL_ERROR',
  'HTTP_ERROR'
]

// The code an error is explained by: the server's code for a 4xx it explained, NETWORK or
// SERVER when there was no usable answer, UNKNOWN for anything that is not an ApiError.
function codeOf(err) {
  if (!(err instanceof ApiError)) return 'UNKNOWN'
  if (err.kind === 'network') return 'NETWORK'
  if (i18n.text('errors.' + err.code)) return err.code
  return err.kind === 'server' ? 'SERVER' : 'UNKNOWN'
}

// -> {message, retryable} for a page to show.
function describe(err) {
  const code = codeOf(err)
  return { message: i18n.text('errors.' + code), retryable: RETRYABLE.includes(code) }
}

module.exports = {
  RETRYABLE,
  codeOf,
  describe
}
