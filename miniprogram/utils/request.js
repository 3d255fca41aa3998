// Calls to our backend as the logged-in user. A 401 means the token expired or was revoked:
// log in again once and retry once; a second 401 is returned to the caller as an error.
const config = require('../config')
const http = require('./http')
const auth = require('./auth')

function sendWithToken(options, token) {
  return http.send({
    baseUrl: config.apiBaseUrl,
    path: options.path,
    method: options.method,
    data: options.data,
    header: Object.assign({}, options.header, { Authorization: 'Bearer ' + token })
  })
}

// request({path, method, data, header}) -> decoded JSON body; rejects with http.ApiError.
async function request(options) {
  const token = await auth.getToken()
  try {
    return await sendWithToken(options, token)
  } catch (err) {
    if (err.status !== 401) throw err
    const freshToken = await auth.renewToken(token)
    return sendWithToken(options, freshToken)
  }
}

module.exports = request
