// The project through WeChat DevTools' own compiler, as miniprogram-ci runs it for an upload:
// JSON, WXML, WXSS and JavaScript compiled with the project's settings. It runs offline
// with the tourist AppID: the compile itself needs no key and no network. (miniprogram-ci
// insists on a private key and asks WeChat for the project's attributes; neither is used to
// compile, so a placeholder key and local attributes stand in. It also tries to fetch a list
// of allowed file types from servicewechat.com and carries on without it.)
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const harness = require('./harness')

// miniprogram-ci leaves its compiler process running, so it runs in a child of its own
// (ci-compile.js) that exits when done. -> {file: content} or a rejection with its error.
function compile(projectPath) {
  const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ci-out-')), 'compiled.json')
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, 'ci-compile.js'), projectPath, output], { maxBuffer: 64 * 1024 * 1024, timeout: 170000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(stderr.trim().split('\n').pop()))
        else resolve(JSON.parse(fs.readFileSync(output, 'utf8')))
        fs.rmSync(path.dirname(output), { recursive: true, force: true })
      })
  })
}

test('the DevTools compiler compiles the project with minified WXML and WXSS', { timeout: 180000 }, async () => {
  const result = await compile(harness.MINIPROGRAM)
  const app = require(path.join(harness.MINIPROGRAM, 'app.json'))
  for (const page of app.pages) {
    for (const extension of ['.js', '.json', '.wxml', '.wxss']) assert.ok(page + extension in result, page + extension)
    const wxml = String(result[page + '.wxml'])
    assert.ok(!/>\s*\n\s*</.test(wxml), page + '.wxml is minified: ' + wxml.slice(0, 200))
  }
  const wxss = String(result['app.wxss'])
  assert.ok(!wxss.includes('\n') && wxss.includes('env(safe-area-inset-bottom)'), wxss.slice(0, 300))
  assert.match(String(result['i18n/zh_CN.js']), /^"use strict";/, 'JavaScript compiled too')
})

test('the DevTools compiler refuses a broken page (so the test above can fail)', { timeout: 180000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-ci-'))
  try {
    fs.cpSync(harness.MINIPROGRAM, dir, { recursive: true, filter: (src) => !src.includes(path.sep + 'docs') })
    fs.writeFileSync(path.join(dir, 'pages/orders/index.wxml'), '<view>{{price}</vie>\n')
    await assert.rejects(compile(dir), /unexpected end/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
