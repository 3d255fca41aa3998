// Delivery addresses: the user's WeChat addresses through wx.chooseAddress, or a form when
// they decline (or the WeChat version has none). The server checks every field again
// (server/domain/addresses.py); the fields here are its names.

// wx.chooseAddress's answer -> the server's fields.
function fromWeChat(res) {
  return {
    name: res.userName || '',
    phone: res.telNumber || '',
    province: res.provinceName || '',
    city: res.cityName || '',
    district: res.countyName || '',
    detail: res.detailInfo || ''
  }
}

// -> a Promise of the address the user picked, or null when they declined (cancelled, or
// refused the permission: "chooseAddress:fail auth deny"), so the page offers the form.
function choose() {
  return new Promise((resolve) => {
    wx.chooseAddress({
      success: (res) => resolve(fromWeChat(res)),
      fail: () => resolve(null)
    })
  })
}

// The first field the form still lacks ('' when it is complete), as the server requires
// them: name, phone, province and city (the region picker), detail.
function missingField(address) {
  for (const field of ['name', 'phone', 'province', 'city', 'detail']) {
    if (!String((address && address[field]) || '').trim()) return field
  }
  return ''
}

// 138****5678: what a page shows of a phone.
function maskPhone(phone) {
  const digits = String(phone || '').replace(/[^0-9]/g, '')
  if (digits.length <= 7) return digits
  return digits.slice(0, 3) + '*'.repeat(digits.length - 7) + digits.slice(-4)
}

// "张三 138****5678" and "广东省广州市海珠区新港中路397号": the two lines a page shows.
function lines(address) {
  if (!address) return null
  return {
    who: address.name + ' ' + maskPhone(address.phone),
    where: address.province + address.city + (address.district || '') + address.detail
  }
}

module.exports = { fromWeChat, choose, missingField, maskPhone, lines }
