// A stand-in for the `wx` object of WeChat's mini program runtime, for running the sample
// mini program's JavaScript in Node. Network calls are real HTTP (fetch); storage is in
// memory; the parts only a person or the WeChat client can do (login code, dialogs, the
// cashier) are answered by `wx.script`, which each test sets.
//
// Only the APIs the mini program uses are here; calling any other one fails loudly.

function later(fn, arg) {
  // WeChat calls callbacks asynchronously; so do we, so ordering bugs show up here too.
  if (fn) setImmediate(() => fn(arg))
}

function callbacks(options, ok, res) {
  if (ok) later(options.success, res)
  else later(options.fail, res)
  later(options.complete, res)
}

// GET data becomes the query string, as wx.request does.
function urlWithQuery(url, data) {
  if (!data || typeof data !== 'object') return url
  const query = new URLSearchParams(data).toString()
  if (!query) return url
  return url + (url.includes('?') ? '&' : '?') + query
}

// WeChat documents confirmText and cancelText of wx.showModal as at most 4 characters.
const MODAL_BUTTON_MAX = 4

// options.language: the WeChat client's language as wx.getAppBaseInfo reports it
// ("zh_CN" by default, "en", ...).
function createWx(options) {
  const language = (options && options.language) || 'zh_CN'
  const storage = new Map()
  let loginCount = 0

  const wx = {
    // What the mini program did, for assertions. Headers are not recorded.
    requests: [], // {method, url, sent, status, body} (status 0: network failure)
    modals: [], // showModal options
    clipboard: [], // setClipboardData data
    titles: [], // setNavigationBarTitle titles
    payments: [], // requestPayment arguments, without the callbacks
    navigations: [], // {type, url}
    script: {
      // (options) -> {confirm: bool}
      showModal: () => {
        throw new Error('test did not script wx.showModal')
      },
      // async (params) -> errMsg string, e.g. 'requestPayment:ok', 'requestPayment:fail cancel'
      requestPayment: async () => {
        throw new Error('test did not script wx.requestPayment')
      },
      // (record) -> true to lose the server's answer: the request arrived, the client sees a
      // network failure (a mobile network dropping the response)
      loseAnswer: () => false,
      // (options) -> errMsg of a failing wx.login, or '' for a code
      loginFails: () => '',
      // (name) -> whether the base library has this API (wx.canIUse)
      canIUse: () => true,
      // async ({businessType, extraData}) -> errMsg, e.g. 'openBusinessView:ok'
      openBusinessView: async () => {
        throw new Error('test did not script wx.openBusinessView')
      },
      // () -> the address the user picks (wx.chooseAddress's fields: userName, telNumber,
      // provinceName, cityName, countyName, detailInfo), or an errMsg string when they decline
      // ('chooseAddress:fail cancel', 'chooseAddress:fail auth deny')
      chooseAddress: () => {
        throw new Error('test did not script wx.chooseAddress')
      }
    },
    addressRequests: 0, // how often wx.chooseAddress was opened
    businessViews: [], // openBusinessView arguments, without the callbacks

    getAppBaseInfo() {
      return { language, SDKVersion: '3.3.4', theme: 'light' }
    },

    getStorageSync(key) {
      // WeChat stores a copy and answers '' for a missing key.
      return storage.has(key) ? JSON.parse(storage.get(key)) : ''
    },
    setStorageSync(key, value) {
      storage.set(key, JSON.stringify(value))
    },
    removeStorageSync(key) {
      storage.delete(key)
    },

    login(options) {
      loginCount += 1
      const failure = wx.script.loginFails(options)
      if (failure) callbacks(options, false, { errMsg: failure })
      else callbacks(options, true, { code: 'fake-wx-login-code-' + loginCount, errMsg: 'login:ok' })
    },

    request(options) {
      const method = (options.method || 'GET').toUpperCase()
      const header = Object.assign({}, options.header)
      let url = options.url
      let body
      if (method === 'GET') {
        url = urlWithQuery(url, options.data)
      } else if (options.data !== undefined) {
        body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data)
      }
      const record = { method, url, sent: options.data, status: 0, body: null }
      wx.requests.push(record)
      fetch(url, { method, headers: header, body, signal: AbortSignal.timeout(options.timeout || 60000) })
        .then(async (response) => {
          const text = await response.text()
          let data = text
          try {
            data = JSON.parse(text) // dataType 'json', WeChat's default
          } catch (err) {
            // not JSON: WeChat hands over the string
          }
          record.status = response.status
          record.body = data
          if (wx.script.loseAnswer(record)) {
            callbacks(options, false, { errMsg: 'request:fail timeout' })
            return
          }
          callbacks(options, true, {
            statusCode: response.status,
            data,
            header: Object.fromEntries(response.headers.entries()),
            errMsg: 'request:ok'
          })
        })
        .catch((err) => {
          const reason = err.name === 'TimeoutError' ? 'timeout' : (err.cause && err.cause.code) || err.message
          callbacks(options, false, { errMsg: 'request:fail ' + reason })
        })
    },

    showModal(options) {
      for (const name of ['confirmText', 'cancelText']) {
        if (options[name] !== undefined && [...options[name]].length > MODAL_BUTTON_MAX) {
          throw new Error('wx.showModal ' + name + ' "' + options[name] + '" is longer than ' + MODAL_BUTTON_MAX + ' characters')
        }
      }
      wx.modals.push({ title: options.title, content: options.content, confirmText: options.confirmText, cancelText: options.cancelText })
      let answer
      try {
        answer = wx.script.showModal(options)
      } catch (err) {
        callbacks(options, false, { errMsg: 'showModal:fail ' + err.message })
        return
      }
      callbacks(options, true, { confirm: Boolean(answer.confirm), cancel: !answer.confirm, errMsg: 'showModal:ok' })
    },

    requestPayment(options) {
      const params = {}
      for (const [key, value] of Object.entries(options)) {
        if (typeof value !== 'function') params[key] = value
      }
      wx.payments.push(params)
      Promise.resolve()
        .then(() => wx.script.requestPayment(params))
        .then((errMsg) => callbacks(options, errMsg === 'requestPayment:ok', { errMsg }))
        .catch((err) => callbacks(options, false, { errMsg: 'requestPayment:fail ' + err.message }))
    },

    navigateTo(options) {
      wx.navigations.push({ type: 'navigateTo', url: options.url })
      callbacks(options, true, { errMsg: 'navigateTo:ok' })
    },
    redirectTo(options) {
      wx.navigations.push({ type: 'redirectTo', url: options.url })
      callbacks(options, true, { errMsg: 'redirectTo:ok' })
    },
    reLaunch(options) {
      wx.navigations.push({ type: 'reLaunch', url: options.url })
      callbacks(options, true, { errMsg: 'reLaunch:ok' })
    },
    stopPullDownRefresh() {},
    setNavigationBarTitle(options) {
      wx.titles.push(options.title)
      callbacks(options, true, { errMsg: 'setNavigationBarTitle:ok' })
    },
    canIUse(name) {
      return Boolean(wx.script.canIUse(name))
    },
    openBusinessView(options) {
      const args = { businessType: options.businessType, extraData: options.extraData }
      wx.businessViews.push(args)
      Promise.resolve()
        .then(() => wx.script.openBusinessView(args))
        .then((errMsg) => callbacks(options, errMsg === 'openBusinessView:ok', { errMsg }))
        .catch((err) => callbacks(options, false, { errMsg: 'openBusinessView:fail ' + err.message }))
    },
    chooseAddress(options) {
      wx.addressRequests += 1
      let answer
      try {
        answer = wx.script.chooseAddress()
      } catch (err) {
        callbacks(options, false, { errMsg: 'chooseAddress:fail ' + err.message })
        return
      }
      if (typeof answer === 'string') callbacks(options, false, { errMsg: answer })
      else callbacks(options, true, Object.assign({ errMsg: 'chooseAddress:ok', nationalCode: '440105', postalCode: '510000' }, answer))
    },
    setClipboardData(options) {
      wx.clipboard.push(options.data)
      callbacks(options, true, { errMsg: 'setClipboardData:ok' })
    }
  }

  // Any API the shim lacks is a test failure, not a silent undefined.
  return new Proxy(wx, {
    get(target, name) {
      if (name in target || typeof name === 'symbol' || name === 'then') return target[name]
      throw new Error('wx.' + String(name) + ' is not provided by tests/miniprogram/wx-shim.js')
    }
  })
}

module.exports = { createWx }
