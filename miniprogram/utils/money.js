// Money is integer fen (1 yuan = 100 fen) from the server to the screen. Formatting uses
// integer division only, so 0.1 + 0.2 style rounding errors cannot appear in a price.

function assertFen(fen) {
  if (!Number.isSafeInteger(fen)) {
    throw new TypeError('amount must be an integer number of fen, got ' + fen)
  }
}

// 1234 -> "¥12.34", 5 -> "¥0.05", -1234 -> "-¥12.34"
function formatFen(fen) {
  assertFen(fen)
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(fen)
  const yuan = Math.floor(abs / 100)
  const cents = abs % 100
  return sign + '¥' + yuan + '.' + (cents < 10 ? '0' : '') + cents
}

// Sum of price x quantity over lines like {price, quantity}; every value must be integer.
function totalFen(lines) {
  return lines.reduce(function (sum, line) {
    assertFen(line.price)
    assertFen(line.quantity)
    return sum + line.price * line.quantity
  }, 0)
}

module.exports = {
  formatFen: formatFen,
  totalFen: totalFen
}
