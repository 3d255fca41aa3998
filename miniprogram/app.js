// The app itself holds nothing: login happens on the first API call (utils/request.js), and
// each page loads its own data.
App({
  globalData: {}
})
