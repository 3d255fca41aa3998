// Debian's Chromium (/usr/bin/chromium) through playwright-core, which downloads no browser:
// rendered pages (simulate.js pageHtml) laid out like on a 375 px wide phone.
const fs = require('node:fs')

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

function missingReason() {
  return fs.existsSync(CHROMIUM) ? '' : 'no Chromium at ' + CHROMIUM + ' (apt-get install chromium)'
}

async function launch() {
  const { chromium } = require('playwright-core')
  return chromium.launch({ executablePath: CHROMIUM })
}

// A browser page showing this HTML on a phone-sized screen, scrolled to the bottom when asked.
async function openHtml(browser, html, options) {
  const page = await browser.newPage({
    viewport: { width: 375, height: (options && options.height) || 667 },
    deviceScaleFactor: (options && options.scale) || 2
  })
  await page.setContent(html)
  if (options && options.scrollToBottom) await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
  return page
}

module.exports = {
  missingReason,
  launch,
  openHtml
}
