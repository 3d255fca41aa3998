// Texts: one file per language with the same keys, the language picked from the phone, and
// a user text for every error code the backend can answer with.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const { createWx } = require('./wx-shim')
const harness = require('./harness')

const MP = harness.MINIPROGRAM
const ROOT = path.resolve(MP, '..')
const i18n = require(path.join(MP, 'i18n/index.js'))
const errors = require(path.join(MP, 'utils/errors.js'))
const { ApiError } = require(path.join(MP, 'utils/http.js'))

// {"a.b": "text"} for a nested texts object.
function flatten(node, prefix, out) {
  out = out || {}
  for (const [key, value] of Object.entries(node)) {
    const name = prefix ? prefix + '.' + key : key
    if (value && typeof value === 'object') flatten(value, name, out)
    else out[name] = value
  }
  return out
}

test('every language file has exactly the keys of zh_CN.js, each a non-empty text', () => {
  const files = fs.readdirSync(path.join(MP, 'i18n')).filter((f) => f !== 'index.js')
  assert.deepEqual(files.sort(), ['en.js', 'zh_CN.js'])
  const reference = flatten(i18n.LANGUAGES.zh_CN)
  for (const [language, texts] of Object.entries(i18n.LANGUAGES)) {
    const flat = flatten(texts)
    assert.deepEqual(Object.keys(flat).sort(), Object.keys(reference).sort(), language)
    for (const [key, value] of Object.entries(flat)) {
      assert.ok(typeof value === 'string' && value.trim(), language + ' ' + key)
      // The same placeholders in every language, or format() leaves "{name}" on screen.
      const placeholders = (text) => (text.match(/\{\w+\}/g) || []).sort()
      assert.ok(placeholders(reference[key]).every((p) => value.includes(p) || key === 'orders.more'), language + ' ' + key)
    }
  }
})

test('Chinese by default; English when the phone is set to English', () => {
  const cases = [
    [{ language: 'zh_CN' }, 'zh_CN'],
    [{ language: 'zh_TW' }, 'zh_CN'],
    [{ language: 'en' }, 'en'],
    [{ language: 'en_US' }, 'en'],
    [{ language: 'fr' }, 'zh_CN']
  ]
  for (const [options, expected] of cases) {
    global.wx = createWx(options)
    assert.equal(i18n.language(), expected, JSON.stringify(options))
  }
  // An old WeChat without wx.getAppBaseInfo: wx.getSystemInfoSync says the language.
  global.wx = { getSystemInfoSync: () => ({ language: 'en' }) }
  assert.equal(i18n.language(), 'en')
  assert.equal(i18n.text('common.retry'), 'Try again')
  assert.equal(i18n.text('orders.more', { name: 'Tea', count: 3, more: 1 }), 'Tea and 1 more')
})

// Every error code the backend can send the mini program: the user-facing part of the status
// table (server/errors.py, USER_FACING), the codes the mini program's API and checkout raise
// (DomainError("CODE", ...)), the login table, and the fallbacks for Flask's own errors
// (server/api/errors.py). Not what only WeChat's servers (callbacks/) or staff (console/, cli/)
// get, nor the protocol layer's own codes (wechatpay/).
function backendErrorCodes() {
  const codes = new Set()
  const read = (file) => fs.readFileSync(path.join(ROOT, 'server', file), 'utf8')
  const table = read('errors.py').match(/^USER_FACING = \{([\s\S]*?)^\}/m)[1]
  for (const m of table.matchAll(/"([A-Z_]+)": \d{3}/g)) codes.add(m[1])
  const files = fs.readdirSync(path.join(ROOT, 'server', 'api'))
    .filter((f) => f.endsWith('.py'))
    .map((f) => 'api/' + f)
    .concat(['domain/checkout.py'])
  for (const file of files) {
    const source = read(file)
    for (const m of source.matchAll(/DomainError\(\s*"([A-Z_]+)"/g)) codes.add(m[1])
    for (const m of source.matchAll(/"-?\d+": \("([A-Z_]+)"/g)) codes.add(m[1]) // errcode -> (code, ...)
    for (const m of source.matchAll(/\d{3}: "([A-Z_]+)"/g)) codes.add(m[1])
    for (const m of source.matchAll(/get\(exc\.code, "([A-Z_]+)"\)/g)) codes.add(m[1])
    for (const m of source.matchAll(/error_response\(\s*\d{3},\s*"([A-Z_]+)"/g)) codes.add(m[1])
  }
  return codes
}

test('every backend error code has a user text in every language', () => {
  const codes = backendErrorCodes()
  for (const code of ['ORDER_NOT_FOUND', 'INVALID_CODE', 'WECHATPAY_ERROR', 'INTERNAL_ERROR', 'HTTP_ERROR', 'REFUND_WINDOW_PASSED']) {
    assert.ok(codes.has(code), 'the scan finds ' + code)
  }
  for (const [language, texts] of Object.entries(i18n.LANGUAGES)) {
    const missing = [...codes].filter((code) => !texts.errors[code])
    assert.deepEqual(missing, [], language + ': add these to i18n/' + language + '.js errors')
  }
  for (const code of errors.RETRYABLE) assert.ok(i18n.LANGUAGES.zh_CN.errors[code], code)
})

test('a failed call is described by its code, never by the server\'s message', () => {
  global.wx = createWx({ language: 'en' })
  const notFound = errors.describe(new ApiError('client', 'no such order', 404, 'ORDER_NOT_FOUND'))
  assert.deepEqual(notFound, { message: 'This order cannot be found.', retryable: false })
  const login = errors.describe(new ApiError('client', 'the login code is invalid or expired; call wx.login again', 401, 'INVALID_CODE'))
  assert.deepEqual(login, { message: 'Your login has expired. Please try again.', retryable: true })
  assert.equal(errors.describe(new ApiError('network', 'request:fail timeout')).message, i18n.text('errors.NETWORK'))
  assert.equal(errors.describe(new ApiError('server', 'boom', 503, 'HTTP_503')).message, i18n.text('errors.SERVER'))
  assert.equal(errors.describe(new ApiError('client', 'teapot', 418, 'SOMETHING_NEW')).message, i18n.text('errors.UNKNOWN'))
  assert.equal(errors.describe(new TypeError('x is undefined')).message, i18n.text('errors.UNKNOWN'))
})

test('wx.showModal button texts are at most 4 characters in every language', () => {
  for (const [language, texts] of Object.entries(i18n.LANGUAGES)) {
    for (const key of ['payment.simulatorConfirm', 'payment.simulatorCancel', 'refund.confirmOk',
      'refund.confirmCancel', 'shipping.simulatorConfirm', 'shipping.simulatorCancel']) {
      const [screen, name] = key.split('.')
      assert.ok([...texts[screen][name]].length <= 4, language + ' ' + key + ' "' + texts[screen][name] + '"')
    }
  }
})
