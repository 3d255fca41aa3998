// 简体中文: the mini program's default language. Every text a user can see is here, by
// screen; en.js has the same keys (tests/miniprogram/i18n.test.js checks). Placeholders
// such as {count} are filled in by i18n.format().
module.exports = {
  common: {
    loading: '加载中…',
    errorTitle: '出了点问题',
    retry: '重试',
    total: '合计',
    pay: '支付',
    viewOrder: '查看订单',
    refresh: '刷新',
    copy: '复制',
    orderNo: '订单号'
  },
  // Order states as the user sees them; EXPIRED is an unpaid order past its pay-by time.
  status: {
    NOTPAY: '待支付',
    PAID: '已支付',
    CLOSED: '已关闭',
    EXPIRED: '已过期',
    REFUNDED: '已退款'
  },
  // Where a payment stands (templates/states.wxml "payment").
  payment: {
    creating: '正在创建订单…',
    paying: '正在等待微信支付…',
    confirming: '正在确认支付结果…',
    paid: '支付成功，谢谢！',
    cancelled: '已取消支付。订单已保留，可稍后支付。',
    failed: '支付未完成，未扣款时可重新支付。',
    closed: '订单已关闭，未完成支付。',
    expired: '订单已超过支付时间，请重新下单。',
    unconfirmed: '仍在确认支付结果。如微信已扣款，订单稍后会显示为已支付。',
    // The simulator's stand-in for WeChat's cashier (development only).
    simulatorTitle: '模拟微信支付',
    simulatorContent: '在本地模拟器中支付此订单？不会产生真实扣款。',
    simulatorConfirm: '支付',
    simulatorCancel: '取消'
  },
  // One text per error code the backend (or the client itself) can give; errors.js says
  // which of them are worth a "retry" button.
  errors: {
    NETWORK: '无法连接服务器，请检查网络后重试。',
    SERVER: '服务器暂时繁忙，请稍后重试。',
    UNKNOWN: '出了点问题，请稍后重试。',
    WX_LOGIN_FAILED: '微信登录失败，请稍后重试。',
    INVALID_CODE: '登录已失效，请重试。',
    UNAUTHORIZED: '登录已失效，请重试。',
    RATE_LIMITED: '操作太频繁，请一分钟后再试。',
    LOGIN_BLOCKED: '微信暂时无法登录此账号。',
    CONFLICT: '请求冲突，请重试。',
    WECHAT_UNAVAILABLE: '微信服务繁忙，请稍后重试。',
    WECHAT_ERROR: '微信登录失败，请稍后重试。',
    WECHATPAY_UNAVAILABLE: '微信支付暂时无响应，请稍后重试。',
    WECHATPAY_ERROR: '微信支付暂时无法处理此订单，请稍后重试。',
    PAYMENTS_NOT_CONFIGURED: '暂时无法支付，请稍后再试。',
    PAYMENTS_MISCONFIGURED: '暂时无法支付，请稍后再试。',
    PRODUCT_NOT_FOUND: '购物车中有商品已下架，请返回重新选择。',
    CART_SPANS_STORES: '这些商品来自不同的门店，请分别结算。',
    ORDER_NOT_FOUND: '找不到这个订单。',
    ORDER_NOT_SHIPPED: '这个订单还没有发货。',
    ORDER_NOT_PAYABLE: '这个订单已不能支付。',
    ORDER_NOT_REFUNDABLE: '这个订单已不能申请退款。',
    REFUNDS_DISABLED: '本店暂不支持在线申请退款，请联系客服。',
    REFUND_WINDOW_PASSED: '已超过可申请退款的时间，请联系客服。',
    REQUEST_ALREADY_PENDING: '已有退款申请在等待商家处理。',
    IDEMPOTENCY_KEY_REUSED: '购物车已变化，请返回重新结算。',
    ORDER_NOT_CANCELLABLE: '这个订单已不能取消。',
    ADDRESS_REQUIRED: '请填写收货地址。',
    INVALID_ADDRESS: '收货地址有误，请检查后重试。',
    INVALID_PHONE: '请填写正确的手机号或带区号的座机号。',
    ADDRESS_NOT_CHANGEABLE: '订单已发货或已关闭，不能再修改地址。',
    INVALID_REQUEST: '请求无效，请返回重试。',
    UNTRUSTED_HOST: '小程序连接的服务器地址有误，请联系商家。',
    NOT_FOUND: '找不到请求的内容。',
    METHOD_NOT_ALLOWED: '请求无效，请更新小程序后重试。',
    BODY_TOO_LARGE: '请求内容过多，请减少商品后重试。',
    INTERNAL_ERROR: '服务器暂时繁忙，请稍后重试。',
    HTTP_ERROR: '出了点问题，请稍后重试。'
  },
  products: {
    title: '商品',
    intro: '选好商品后去结算。',
    myOrders: '我的订单',
    empty: '暂无在售商品。',
    checkout: '去结算'
  },
  checkout: {
    title: '确认订单',
    empty: '购物车是空的。',
    address: '收货地址',
    chooseAddress: '选择收货地址',
    changeAddress: '修改',
    addressNeeded: '请先选择收货地址。',
    fillAddress: '填写收货地址',
    name: '收货人',
    phone: '手机号',
    region: '所在地区',
    regionPlaceholder: '选择省、市、区',
    detail: '详细地址',
    detailPlaceholder: '街道、门牌号、楼栋、房间',
    useAddress: '使用此地址',
    fieldMissing: {
      name: '请填写收货人。',
      phone: '请填写手机号。',
      province: '请选择所在地区。',
      city: '请选择所在地区。',
      detail: '请填写详细地址。'
    },
    pickup: '到店自取，无需地址。'
  },
  order: {
    title: '订单详情',
    created: '下单时间',
    paid: '支付时间',
    payBy: '请在此时间前支付',
    address: '收货地址',
    changeAddress: '修改地址',
    addressChanged: '收货地址已修改。',
    cancel: '取消订单',
    cancelTitle: '取消订单',
    cancelContent: '取消后订单将关闭，不能再支付。',
    cancelOk: '取消订单',
    cancelKeep: '再想想',
    cancelled: '订单已取消。',
    cancelTooSoon: '微信支付在下单 5 分钟后才能关闭订单，请在 {time} 后再取消；未支付的订单到期也会自动关闭。'
  },
  // The order page's refund part: the user's request, the shop's answer, each refund.
  refund: {
    request: '申请退款',
    reasonLabel: '退款原因',
    reasonPlaceholder: '请告诉商家退款原因',
    reasonMissing: '请填写退款原因。',
    submit: '提交申请',
    cancel: '取消',
    confirmTitle: '申请退款',
    confirmContent: '提交后由商家审核，同意后 {amount} 将原路退回。',
    confirmOk: '提交',
    confirmCancel: '取消',
    sent: '退款申请已提交，请等待商家处理。',
    yourReason: '退款原因：{reason}',
    requestTitle: '退款申请',
    requestStatus: {
      PENDING: '等待商家处理',
      APPROVED: '商家已同意',
      REJECTED: '商家未同意'
    },
    shopNote: '商家说明：{note}',
    refunded: '已退款 {amount}',
    // WeChat's refund states (and ours before WeChat answered) in the user's words.
    refundStatus: {
      PENDING: '退款处理中',
      PROCESSING: '退款处理中',
      SUCCESS: '已原路退回',
      CLOSED: '退款已关闭',
      ABNORMAL: '退款遇到问题，商家会联系您',
      FAILED: '退款未成功，商家会联系您'
    }
  },
  // The order page's shipping part. state: WeChat's order_state (1..6); logistics: how the
  // shop delivers; carriers: WeChat's delivery_id codes of common carriers.
  shipping: {
    title: '物流',
    preparing: '商家正在发货',
    state: {
      1: '待发货',
      2: '已发货',
      3: '已收货',
      4: '已完成',
      5: '已退款',
      6: '待结算'
    },
    logistics: {
      1: '快递',
      2: '同城配送',
      3: '虚拟商品',
      4: '到店自提'
    },
    carriers: {
      SF: '顺丰速运',
      ZTO: '中通快递',
      YTO: '圆通速递',
      STO: '申通快递',
      YD: '韵达快递',
      JD: '京东物流',
      JTSD: '极兔速递',
      DBL: '德邦快递'
    },
    trackingNo: '运单号',
    receivedAt: '收货时间',
    confirm: '确认收货',
    confirming: '正在确认收货结果…',
    received: '已确认收货，谢谢！',
    unconfirmed: '微信还没有确认收货结果，请稍后刷新。',
    unsupported: '当前微信版本不能在这里确认收货，请升级微信。',
    // The simulator's stand-in for WeChat's confirm-receipt component (development only).
    simulatorTitle: '模拟确认收货',
    simulatorContent: '在本地模拟器中确认已收到商品？',
    simulatorConfirm: '确认',
    simulatorCancel: '取消'
  },
  orders: {
    title: '我的订单',
    empty: '还没有订单。',
    browse: '去逛逛',
    // An order of several products: "手冲咖啡 等3件"
    more: '{name} 等{count}件',
    tabs: {
      all: '全部',
      unpaid: '待支付',
      paid: '待发货',
      shipped: '已发货',
      refunds: '退款'
    },
    tabEmpty: '这里没有订单。'
  }
}
