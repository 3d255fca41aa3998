// English: chosen when the phone's system language is English (i18n/index.js). Same keys as
// zh_CN.js, screen by screen.
module.exports = {
  common: {
    loading: 'Loading…',
    errorTitle: 'Something went wrong',
    retry: 'Try again',
    total: 'Total',
    pay: 'Pay',
    viewOrder: 'View order',
    refresh: 'Refresh',
    copy: 'Copy',
    orderNo: 'Order'
  },
  status: {
    NOTPAY: 'Awaiting payment',
    PAID: 'Paid',
    CLOSED: 'Closed',
    EXPIRED: 'Expired'
  },
  payment: {
    creating: 'Creating your order…',
    paying: 'Waiting for WeChat Pay…',
    confirming: 'Confirming your payment…',
    paid: 'Payment received. Thank you!',
    cancelled: 'Payment cancelled. Your order is kept; you can pay it later.',
    failed: 'The payment did not go through. If you were not charged, you can pay again.',
    closed: 'This order was closed before the payment completed.',
    expired: 'The time to pay this order has passed. Please order again.',
    unconfirmed: 'Still confirming your payment. If WeChat charged you, the order will show as paid shortly.',
    simulatorTitle: 'Simulated WeChat Pay',
    simulatorContent: 'Pay this order in the local simulator? No real money moves.',
    simulatorConfirm: 'Pay',
    simulatorCancel: 'Back'
  },
  errors: {
    NETWORK: 'Cannot reach the server. Check your connection and try again.',
    SERVER: 'The server is having trouble right now. Please try again in a moment.',
    UNKNOWN: 'Something went wrong. Please try again.',
    WX_LOGIN_FAILED: 'WeChat login did not work. Please try again.',
    INVALID_CODE: 'Your login has expired. Please try again.',
    UNAUTHORIZED: 'Your login has expired. Please try again.',
    RATE_LIMITED: 'Too many attempts. Please wait a minute and try again.',
    LOGIN_BLOCKED: 'WeChat cannot log in this account right now.',
    CONFLICT: 'Two requests crossed. Please try again.',
    WECHAT_UNAVAILABLE: 'WeChat is busy. Please try again in a moment.',
    WECHAT_ERROR: 'WeChat login did not work. Please try again later.',
    WECHATPAY_UNAVAILABLE: 'WeChat Pay is not answering. Please try again in a moment.',
    WECHATPAY_ERROR: 'WeChat Pay cannot take this order right now. Please try again later.',
    PAYMENTS_NOT_CONFIGURED: 'Payments are not available right now. Please try again later.',
    PAYMENTS_MISCONFIGURED: 'Payments are not available right now. Please try again later.',
    PRODUCT_NOT_FOUND: 'Something in your cart is no longer for sale. Please go back and choose again.',
    ORDER_NOT_FOUND: 'This order cannot be found.',
    ORDER_NOT_SHIPPED: 'This order has not been shipped yet.',
    ORDER_NOT_PAYABLE: 'This order can no longer be paid.',
    IDEMPOTENCY_KEY_REUSED: 'Your cart changed. Please go back and check out again.',
    INVALID_REQUEST: 'That request was not valid. Please go back and try again.',
    NOT_FOUND: 'What you asked for cannot be found.',
    METHOD_NOT_ALLOWED: 'That request was not valid. Please update the mini program.',
    BODY_TOO_LARGE: 'That is too much at once. Please order fewer items.',
    INTERNAL_ERROR: 'The server is having trouble right now. Please try again in a moment.',
    HTTP_ERROR: 'Something went wrong. Please try again.'
  },
  products: {
    title: 'Products',
    intro: 'Pick what you want, then check out.',
    myOrders: 'My orders',
    empty: 'No products for sale yet.',
    checkout: 'Check out'
  },
  checkout: {
    title: 'Checkout',
    empty: 'Your cart is empty.'
  },
  order: {
    title: 'Order',
    created: 'Created',
    paid: 'Paid',
    payBy: 'Pay by'
  },
  orders: {
    title: 'My orders',
    empty: 'No orders yet.',
    browse: 'Browse products',
    more: '{name} and {more} more'
  }
}
