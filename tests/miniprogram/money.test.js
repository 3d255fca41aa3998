const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { formatFen, totalFen } = require(path.join(__dirname, '..', '..', 'miniprogram', 'utils', 'money.js'))

test('formatFen writes yuan and two-digit fen', () => {
  assert.equal(formatFen(0), '¥0.00')
  assert.equal(formatFen(1), '¥0.01')
  assert.equal(formatFen(10), '¥0.10')
  assert.equal(formatFen(1234), '¥12.34')
  assert.equal(formatFen(1800), '¥18.00')
  assert.equal(formatFen(-1234), '-¥12.34')
  assert.equal(formatFen(Number.MAX_SAFE_INTEGER), '¥90071992547409.91')
})

test('formatFen has none of the float artefacts of yuan arithmetic', () => {
  // 0.1 + 0.2 yuan and 1.005 yuan go wrong with floats and toFixed; in fen they cannot.
  assert.equal(formatFen(10 + 20), '¥0.30')
  assert.equal(formatFen(100 + 5), '¥1.05')
  for (let fen = 0; fen < 100000; fen += 7) {
    const text = formatFen(fen)
    const [yuan, cents] = text.slice(1).split('.')
    assert.equal(Number(yuan) * 100 + Number(cents), fen, text)
  }
})

test('formatFen and totalFen refuse anything but integer fen', () => {
  for (const bad of [12.5, '1234', NaN, Infinity, null, undefined, 2 ** 53]) {
    assert.throws(() => formatFen(bad), TypeError, String(bad))
  }
  assert.throws(() => totalFen([{ price: 1.5, quantity: 2 }]), TypeError)
  assert.throws(() => totalFen([{ price: 150, quantity: 0.5 }]), TypeError)
})

test('totalFen sums price x quantity', () => {
  assert.equal(totalFen([]), 0)
  assert.equal(totalFen([{ price: 1800, quantity: 2 }, { price: 1250, quantity: 1 }, { price: 1, quantity: 3 }]), 4853)
})
