// Where the mini program finds its servers. This is the only file to edit when you deploy.
//
// Development: the backend and the WeChat simulator started by `make dev`
// (scripts/devstack.py). Production: put your backend's HTTPS domain below; it must also be
// listed as a "request legal domain" in the mini program admin console.
const API_BASE_URL = 'http://127.0.0.1:8000'

// The local WeChat simulator (sandbox/). It stands in for WeChat's login and cashier, which
// cannot accept codes or prepay ids from a simulated WeChat Pay. Set it to '' to use real
// WeChat login and payment against a plain-HTTP development backend.
const SANDBOX_BASE_URL = 'http://127.0.0.1:8001'

module.exports = {
  apiBaseUrl: API_BASE_URL,
  // WeChat only talks to HTTPS backends outside development, so an HTTPS backend means the
  // simulator is switched off without anyone having to remember it.
  sandboxBaseUrl: API_BASE_URL.startsWith('https://') ? '' : SANDBOX_BASE_URL,
  // wx.request's own timeout, in milliseconds.
  requestTimeout: 10000
}
