// The texts of the mini program in the phone's language: Simplified Chinese unless the
// system language is English. Pages put texts() in their data as `t` and write
// {{t.screen.key}} in WXML; JavaScript uses text('screen.key').
const LANGUAGES = {
  zh_CN: require('./zh_CN'),
  en: require('./en')
}
const DEFAULT_LANGUAGE = 'zh_CN'

// The WeChat client's language, e.g. "zh_CN", "zh_TW", "en". wx.getAppBaseInfo is the
// current API (base library 2.20.1+); wx.getSystemInfoSync is for older clients.
function systemLanguage() {
  const info = typeof wx.getAppBaseInfo === 'function' ? wx.getAppBaseInfo() : wx.getSystemInfoSync()
  return (info && info.language) || ''
}

// Asked on every call (it is cheap): a user who switches WeChat's language sees it on the
// next page they open.
function language() {
  return /^en/i.test(systemLanguage()) ? 'en' : DEFAULT_LANGUAGE
}

function texts() {
  return LANGUAGES[language()]
}

// "payment.paid" -> the text in the current language ('' for an unknown key).
function text(key, params) {
  const found = key.split('.').reduce((node, part) => (node ? node[part] : undefined), texts())
  return typeof found === 'string' ? format(found, params) : ''
}

// format('{name} and {count} more', {name: 'Tea', count: 2}) -> 'Tea and 2 more'
function format(template, params) {
  return template.replace(/\{(\w+)\}/g, (all, name) => (params && name in params ? String(params[name]) : all))
}

// A page's first step in onLoad: its texts as `t`, and its title in the navigation bar
// (the title in the page's .json is the Chinese one, shown until this runs).
function applyTo(page, screen) {
  page.setData({ t: texts() })
  wx.setNavigationBarTitle({ title: text(screen + '.title') })
}

module.exports = {
  LANGUAGES,
  DEFAULT_LANGUAGE,
  language,
  texts,
  text,
  format,
  applyTo
}
