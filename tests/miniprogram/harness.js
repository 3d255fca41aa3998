// A tiny mini program runtime for Node: App()/Component()/getApp() as globals, page
// instances with data and setData (pages are built with Component(), lifecycle in methods), and rendering through WeChat's own WXML compiler (wcc, from the
// miniprogram-compiler package), so tests read what the user would see and tap what the
// template binds.
const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const { wxmlToJs } = require('miniprogram-compiler')
const { createWx } = require('./wx-shim')

const MINIPROGRAM = path.resolve(__dirname, '..', '..', 'miniprogram')

const pageDefinitions = new Map() // route -> {data, ...methods} of the page's Component()
let appInstance = null
let definingRoute = null

global.App = (definition) => {
  appInstance = definition
}
global.getApp = () => appInstance
// A page built with Component(): its data, and its methods (onLoad, onShow, handlers...)
// on the page instance.
global.Component = (definition) => {
  if (!definingRoute) throw new Error('Component() called outside harness.openPage')
  pageDefinitions.set(definingRoute, Object.assign({ data: definition.data }, definition.methods))
}

function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value))
}

// setData keys may be paths: "products[2].quantity", "order.status".
function setPath(target, keyPath, value) {
  const parts = keyPath.replace(/\[(\d+)\]/g, '.$1').split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    if (node[part] === undefined || node[part] === null) node[part] = {}
    node = node[part]
  }
  node[parts[parts.length - 1]] = value
}

// A fresh wx for a test: a new install (empty storage) of the mini program.
// options.language: the phone's language (default zh_CN).
function newInstall(options) {
  const wx = createWx(options)
  global.wx = wx
  if (!appInstance) require(path.join(MINIPROGRAM, 'app.js'))
  return wx
}

function pageDefinition(route) {
  if (!pageDefinitions.has(route)) {
    definingRoute = route
    try {
      require(path.join(MINIPROGRAM, route + '.js'))
    } finally {
      definingRoute = null
    }
  }
  return pageDefinitions.get(route)
}

// Open a page like the framework: instance with its own copy of data, onLoad(query), onShow().
// Resolves once both have settled (our pages return their loading promise).
async function openPage(route, query) {
  const definition = pageDefinition(route)
  const page = {
    route,
    data: clone(definition.data) || {},
    dataHistory: [], // every setData payload, in order
    setData(changes, callback) {
      page.dataHistory.push(clone(changes))
      for (const [key, value] of Object.entries(changes)) setPath(page.data, key, clone(value))
      if (callback) setImmediate(callback)
    }
  }
  for (const [key, value] of Object.entries(definition)) {
    if (key !== 'data') page[key] = typeof value === 'function' ? value : clone(value)
  }
  if (page.onLoad) await page.onLoad(Object.assign({}, query))
  if (page.onShow) await page.onShow()
  return page
}

// "/pages/checkout/index?cart=1:2" -> {route, query}
function parseUrl(url) {
  const [pathname, search] = url.split('?')
  return { route: pathname.replace(/^\//, ''), query: Object.fromEntries(new URLSearchParams(search || '')) }
}

// Follow the last navigation the mini program asked for.
function openNavigated(wx) {
  const last = wx.navigations[wx.navigations.length - 1]
  if (!last) throw new Error('the page did not navigate')
  const { route, query } = parseUrl(last.url)
  return openPage(route, query)
}

// ---- rendering with wcc ---------------------------------------------------------------

let generator = null
const renderWarnings = []

// Every file of the mini program with this extension, as "./dir/file.ext" (how DevTools
// names them to the compilers; absolute imports like "/templates/x.wxml" need it).
function projectFiles(extension) {
  return fs.readdirSync(MINIPROGRAM, { recursive: true })
    .map((file) => file.split(path.sep).join('/'))
    .filter((file) => file.endsWith(extension) && !file.startsWith('node_modules/'))
    .sort()
    .map((file) => './' + file)
}

// $gwx for the whole mini program, compiled once per test process.
function compiledTemplates() {
  if (!generator) {
    const source = wxmlToJs(MINIPROGRAM, { wxmlList: projectFiles('.wxml'), wxsList: [] })
    // The compiled code expects a browser-ish global called window. It reports runtime
    // template errors (missing import, unknown template) on console.
    const record = (...args) => renderWarnings.push(args.join(' '))
    const context = { console: { log: record, info: record, warn: record, error: record } }
    context.window = context
    vm.createContext(context)
    generator = vm.runInContext('(function (global) {' + source + '\n})', context)(context)
  }
  return generator
}

// The virtual DOM tree WeChat would render for a page with this data. A template error
// (as WeChat's runtime would report it) fails the render.
function renderRoute(route, data) {
  const generate = compiledTemplates()('./' + route + '.wxml')
  if (typeof generate !== 'function') throw new Error('no compiled template for ' + route)
  renderWarnings.length = 0
  const tree = generate(clone(data))
  if (renderWarnings.length) throw new Error('rendering ' + route + ': ' + renderWarnings.join('; '))
  return tree
}

function render(page) {
  return renderRoute(page.route, page.data)
}

function textOf(node) {
  if (node === null || node === undefined) return ''
  if (typeof node !== 'object') return String(node)
  return (node.children || []).map(textOf).join(' ')
}

// Visible text of the page, whitespace collapsed.
function screenText(page) {
  return textOf(render(page)).replace(/\s+/g, ' ').trim()
}

function findNodes(node, predicate, found) {
  found = found || []
  if (node && typeof node === 'object') {
    if (node.tag && predicate(node)) found.push(node)
    for (const child of node.children || []) findNodes(child, predicate, found)
  }
  return found
}

function dataset(node) {
  const result = {}
  for (const [name, value] of Object.entries(node.attr || {})) {
    if (name.startsWith('data-')) {
      result[name.slice(5).replace(/-([a-z])/g, (m, c) => c.toUpperCase())] = value
    }
  }
  return result
}

// Tap the n-th rendered element with a bindtap whose text includes `label`, as a user would:
// disabled buttons do nothing, and the handler gets the element's dataset.
// Returns the handler's promise (or undefined when nothing happened).
function tap(page, label, nth) {
  const matches = findNodes(render(page), (node) => node.attr && node.attr.bindtap && textOf(node).includes(label))
  const node = matches[nth || 0]
  if (!node) throw new Error('nothing tappable labelled "' + label + '" on ' + page.route + ': ' + screenText(page))
  if (node.attr.disabled === true) return undefined
  const handler = page[node.attr.bindtap]
  if (typeof handler !== 'function') throw new Error(page.route + ' has no method ' + node.attr.bindtap)
  const target = { dataset: dataset(node) }
  return handler.call(page, { type: 'tap', currentTarget: target, target })
}

module.exports = {
  MINIPROGRAM,
  projectFiles,
  newInstall,
  openPage,
  openNavigated,
  pageDefinition,
  parseUrl,
  render,
  renderRoute,
  textOf,
  screenText,
  tap
}
