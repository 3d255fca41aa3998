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
    EXPIRED: 'Expired',
    REFUNDED: 'Refunded'
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
    CART_SPANS_STORES: 'These items come from different stores. Please pay for each store separately.',
    ORDER_NOT_FOUND: 'This order cannot be found.',
    ORDER_NOT_SHIPPED: 'This order has not been shipped yet.',
    ORDER_NOT_PAYABLE: 'This order can no longer be paid.',
    ORDER_NOT_REFUNDABLE: 'This order can no longer be refunded.',
    REFUNDS_DISABLED: 'This shop does not take refund requests here. Please contact customer service.',
    REFUND_WINDOW_PASSED: 'The time to request a refund has passed. Please contact customer service.',
    REQUEST_ALREADY_PENDING: 'A refund request for this order is already waiting for the shop.',
    IDEMPOTENCY_KEY_REUSED: 'Your cart changed. Please go back and check out again.',
    INVALID_REQUEST: 'That request was not valid. Please go back and try again.',
    UNTRUSTED_HOST: 'The mini program is set up with the wrong server address. Please contact the shop.',
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
  refund: {
    request: 'Request a refund',
    reasonLabel: 'Reason',
    reasonPlaceholder: 'Tell the shop why',
    reasonMissing: 'Please give a reason.',
    submit: 'Send request',
    cancel: 'Cancel',
    confirmTitle: 'Request a refund',
    confirmContent: 'The shop reviews your request. If it agrees, {amount} goes back to where you paid from.',
    confirmOk: 'Send',
    confirmCancel: 'Back',
    sent: 'Request sent. The shop will review it.',
    yourReason: 'Reason: {reason}',
    requestTitle: 'Refund request',
    requestStatus: {
      PENDING: 'Waiting for the shop',
      APPROVED: 'Approved by the shop',
      REJECTED: 'Declined by the shop'
    },
    shopNote: 'The shop says: {note}',
    refunded: 'Refunded {amount}',
    refundStatus: {
      PENDING: 'Being processed',
      PROCESSING: 'Being processed',
      SUCCESS: 'Returned to you',
      CLOSED: 'Refund closed',
      ABNORMAL: 'The refund ran into a problem; the shop will contact you',
      FAILED: 'The refund did not go through; the shop will contact you'
    }
  },
  shipping: {
    title: 'Delivery',
    preparing: 'The shop is preparing your shipment',
    state: {
      1: 'Awaiting shipment',
      2: 'Shipped',
      3: 'Received',
      4: 'Completed',
      5: 'Refunded',
      6: 'Awaiting settlement'
    },
    logistics: {
      1: 'Express',
      2: 'Same-city delivery',
      3: 'Digital goods',
      4: 'Self-pickup'
    },
    carriers: {
      SF: 'SF Express',
      ZTO: 'ZTO Express',
      YTO: 'YTO Express',
      STO: 'STO Express',
      YD: 'Yunda Express',
      JD: 'JD Logistics',
      JTSD: 'J&T Express',
      DBL: 'Deppon Express'
    },
    trackingNo: 'Tracking no.',
    receivedAt: 'Received',
    confirm: 'Confirm receipt',
    confirming: 'Checking your receipt with WeChat…',
    received: 'Receipt confirmed. Thank you!',
    unconfirmed: 'WeChat has not confirmed your receipt yet. Please refresh in a moment.',
    unsupported: 'This WeChat version cannot confirm receipt here. Please update WeChat.',
    simulatorTitle: 'Simulated receipt',
    simulatorContent: 'Confirm in the local simulator that the goods arrived?',
    simulatorConfirm: 'Yes',
    simulatorCancel: 'Back'
  },
  orders: {
    title: 'My orders',
    empty: 'No orders yet.',
    browse: 'Browse products',
    more: '{name} and {more} more'
  }
}
