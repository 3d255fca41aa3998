// wx.showModal as a promise: resolves true when the user confirms, false when they cancel;
// rejects with an Error carrying WeChat's errMsg when the dialog cannot be shown.
// confirmText and cancelText: at most 4 characters, as WeChat documents.
function ask({ title, content, confirmText, cancelText }) {
  return new Promise((resolve, reject) => {
    wx.showModal({
      title,
      content,
      confirmText,
      cancelText,
      success: (res) => resolve(Boolean(res.confirm)),
      fail: (res) => reject(new Error(res.errMsg || 'dialog failed'))
    })
  })
}

module.exports = { ask }
