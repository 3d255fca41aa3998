// wx.request as a promise, with one error type for every way a call can fail (what the user
// is told about one is in errors.js).
// No authentication here: see request.js. Nothing here logs headers, so tokens stay out of logs.
const config = require('../config')

// kind: 'network' (no answer at all), 'server' (5xx), 'client' (4xx: the server said why).
// details: the server's whole error object, e.g. {code, message, order_id}.
class ApiError extends Error {
  constructor(kind, message, status, code, details) {
    super(message)
    this.name = 'ApiError'
    this.kind = kind
    this.status = status || 0
    this.code = code || ''
    this.details = details || {}
  }
}

function errorFromResponse(res) {
  const body = res.data && typeof res.data === 'object' ? res.data.error : null
  const code = body && body.code ? body.code : 'HTTP_' + res.statusCode
  const message = body && body.message ? body.message : 'Request failed (' + res.statusCode + ')'
  const kind = res.statusCode >= 500 ? 'server' : 'client'
  return new ApiError(kind, message, res.statusCode, code, body)
}

// send({baseUrl, path, method, data, header}) -> the decoded JSON body of a 2xx answer.
function send(options) {
  return new Promise((resolve, reject) => {
    wx.request({
      url: options.baseUrl + options.path,
      method: options.method || 'GET',
      data: options.data,
      header: Object.assign({ 'content-type': 'application/json' }, options.header),
      timeout: config.requestTimeout,
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          resolve(res.data)
        } else {
          reject(errorFromResponse(res))
        }
      },
      fail(res) {
        reject(new ApiError('network', res.errMsg || 'request:fail'))
      }
    })
  })
}

module.exports = {
  ApiError,
  send
}
