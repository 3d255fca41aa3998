// The mini program as DevTools would open it: project files, every page complete, every
// WXML and WXSS file accepted by WeChat's own compilers (wcc, wcsc from miniprogram-compiler),
// every event handler a template names defined on its page.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const { wxmlToJs } = require('miniprogram-compiler')
const wcsc = require('miniprogram-compiler/src/wcsc')

const harness = require('./harness')

const MP = harness.MINIPROGRAM

function readJson(relative) {
  return JSON.parse(fs.readFileSync(path.join(MP, relative), 'utf8'))
}

const app = readJson('app.json')

test('project.config.json opens without an AppID, with URL checks on', () => {
  const project = readJson('project.config.json')
  assert.equal(project.compileType, 'miniprogram')
  assert.equal(project.appid, 'touristappid')
  assert.equal(project.setting.urlCheck, true, 'domain checks stay on in the shared config')
  // DevTools lets this file override project.config.json on one machine: the only place
  // the local http://127.0.0.1 dev stack is allowed.
  assert.equal(readJson('project.private.config.json').setting.urlCheck, false)
})

test('the app files exist and app.json names the sitemap', () => {
  for (const file of ['app.js', 'app.json', 'app.wxss', 'sitemap.json', 'config.js', 'README.md']) {
    assert.ok(fs.existsSync(path.join(MP, file)), file)
  }
  assert.equal(app.sitemapLocation, 'sitemap.json')
  assert.ok(Array.isArray(readJson('sitemap.json').rules))
})

test('every page in app.json has its .js, .json, .wxml and .wxss', () => {
  assert.ok(app.pages.length >= 4)
  for (const page of app.pages) {
    for (const extension of ['.js', '.json', '.wxml', '.wxss']) {
      assert.ok(fs.existsSync(path.join(MP, page + extension)), page + extension)
    }
    assert.equal(typeof readJson(page + '.json'), 'object')
  }
})

test('every WXML file compiles with wcc and each page renders its first state', () => {
  const files = harness.projectFiles('.wxml')
  assert.ok(files.length > app.pages.length, 'pages and shared templates')
  assert.doesNotThrow(() => wxmlToJs(MP, { wxmlList: files, wxsList: [] }))
  for (const route of app.pages) {
    const tree = harness.renderRoute(route, harness.pageDefinition(route).data)
    assert.equal(tree.tag, 'wx-page', route)
  }
})

test('wcc rejects a broken template (so the test above can fail)', () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'mp-wxml-'))
  try {
    fs.writeFileSync(path.join(dir, 'broken.wxml'), '<view>{{price}</vie>\n')
    assert.throws(() => wxmlToJs(dir, { wxmlList: ['./broken.wxml'], wxsList: [] }), /broken\.wxml/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('every WXSS file compiles with wcsc', () => {
  const files = harness.projectFiles('.wxss')
  assert.ok(files.includes('./app.wxss'))
  for (const file of files) {
    // wcsc returns (not throws) an Error with the compiler's message.
    const result = wcsc(MP, [file.slice(0, -'.wxss'.length)])
    assert.ok(!(result instanceof Error), file + ': ' + (result && result.message))
  }
})

// Handler names a WXML file binds, e.g. bindtap="onPay" -> onPay.
function handlersIn(text) {
  return [...text.matchAll(/\b(?:bind|catch)[:]?\w+="(\w+)"/g)].map((m) => m[1])
}

function templateBodies(text) {
  const bodies = {}
  for (const m of text.matchAll(/<template name="([\w-]+)">([\s\S]*?)<\/template>/g)) bodies[m[1]] = m[2]
  return bodies
}

test('every handler a page template binds is a method of that page', () => {
  for (const route of app.pages) {
    const wxml = fs.readFileSync(path.join(MP, route + '.wxml'), 'utf8')
    const imported = {}
    for (const m of wxml.matchAll(/<import src="([^"]+)"/g)) {
      const file = m[1].startsWith('/') ? path.join(MP, m[1]) : path.join(MP, path.dirname(route), m[1])
      Object.assign(imported, templateBodies(fs.readFileSync(file, 'utf8')))
    }
    const used = [...wxml.matchAll(/<template is="([\w-]+)"/g)].map((m) => m[1])
    const handlers = handlersIn(wxml).concat(...used.map((name) => {
      assert.ok(imported[name] !== undefined, route + ' uses unknown template ' + name)
      return handlersIn(imported[name])
    }))
    const definition = harness.pageDefinition(route)
    for (const handler of handlers) {
      assert.equal(typeof definition[handler], 'function', route + ' binds ' + handler)
    }
  }
})

test('config.js: an HTTPS backend switches the simulator off', () => {
  const source = fs.readFileSync(path.join(MP, 'config.js'), 'utf8')
  function evaluate(code) {
    const module = { exports: {} }
    vm.runInNewContext(code, { module, exports: module.exports })
    return module.exports
  }
  const development = evaluate(source)
  assert.match(development.apiBaseUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.match(development.sandboxBaseUrl, /^http:\/\/127\.0\.0\.1:\d+$/)

  const line = /^const API_BASE_URL = '.*'$/m
  assert.match(source, line, 'one line names the backend')
  const production = evaluate(source.replace(line, "const API_BASE_URL = 'https://api.example.com'"))
  assert.equal(production.apiBaseUrl, 'https://api.example.com')
  assert.equal(production.sandboxBaseUrl, '')
})

test('DevTools code-quality settings: WXML and WXSS minified, components loaded lazily', () => {
  const project = readJson('project.config.json')
  assert.equal(project.setting.minifyWXML, true)
  assert.equal(project.setting.minifyWXSS, true)
  assert.equal(app.lazyCodeLoading, 'requiredComponents')
})

// [{selector, body}] of a WXSS file (no nesting in WXSS).
function cssRules(text) {
  return [...text.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/([^{}]+)\{([^{}]*)\}/g)]
    .map((m) => ({ selector: m[1].trim(), body: m[2] }))
}

test('every fixed footer leaves room for the home indicator (safe area)', () => {
  const fixedAtBottom = []
  for (const file of harness.projectFiles('.wxss')) {
    for (const rule of cssRules(fs.readFileSync(path.join(MP, file), 'utf8'))) {
      if (/position:\s*fixed/.test(rule.body) && /bottom:\s*0/.test(rule.body)) {
        fixedAtBottom.push(file + ' ' + rule.selector)
        assert.match(rule.body, /padding-bottom:[^;]*env\(safe-area-inset-bottom\)/, file + ' ' + rule.selector)
      }
    }
  }
  assert.ok(fixedAtBottom.length >= 1, 'the footer was found')
  // The page content ends above the footer and the safe area.
  const container = cssRules(fs.readFileSync(path.join(MP, 'app.wxss'), 'utf8')).find((r) => r.selector === '.container')
  assert.match(container.body, /padding-bottom:[^;]*env\(safe-area-inset-bottom\)/)
})
