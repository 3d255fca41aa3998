// The order page: show the part of #order for the order's state, count down the time left to
// pay, and ask our own backend (never WeChat) every 2 seconds until the order is settled.
(function () {
  var section = document.getElementById("order");
  if (!section) return;
  var left = parseInt(section.dataset.secondsLeft, 10) || 0;
  var deadline = Date.now() + left * 1000;

  function show(state) {
    section.dataset.state = state;
    section.querySelectorAll("[data-when]").forEach(function (part) {
      part.hidden = part.dataset.when !== state;
    });
  }

  function tick() {
    var seconds = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var shown = section.querySelector("[data-time-left]");
    if (shown) shown.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    if (seconds === 0 && section.dataset.state === "waiting") show("expired");
  }

  function check() {
    return fetch(section.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body) {
          deadline = Date.now() + body.seconds_left * 1000;
          show(body.state);
        }
        return body;
      })
      .catch(function () { return null; /* the next poll or click tries again */ });
  }

  function poll() {
    if (section.dataset.state !== "waiting") return;
    check().then(function () { setTimeout(poll, 2000); });
  }

  show(section.dataset.state);
  tick();
  setInterval(tick, 1000);
  // A QR code is polled; an H5 order only on the user's "check again" (WeChat may send the
  // browser back before the payment is final, so a return proves nothing by itself).
  if (section.dataset.poll === "yes") setTimeout(poll, 2000);
  // Inside WeChat: getBrandWCPayRequest with the server's signed parameters. Its answer is a
  // hint only (ok may come before the notification, cancel and fail are alike): the page then
  // polls its own backend, which is told by WeChat Pay.
  var payButton = section.querySelector("[data-action=pay-jsapi]");
  if (payButton) {
    if (section.dataset.wxConfig && window.wx && wx.config) {
      wx.config(JSON.parse(section.dataset.wxConfig));
    }
    payButton.addEventListener("click", function () {
      payButton.disabled = true;
      fetch(payButton.dataset.payUrl, {
        method: "POST",
        headers: { "X-CSRFToken": payButton.dataset.csrf, Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body || !window.WeixinJSBridge) { payButton.disabled = false; return; }
          WeixinJSBridge.invoke("getBrandWCPayRequest", body.pay_params, function (res) {
            var outcome = (res && res.err_msg || "").split(":")[1] || "fail";
            section.querySelectorAll("[data-hint]").forEach(function (hint) {
              hint.hidden = hint.dataset.hint !== outcome;
            });
            payButton.disabled = false;
            if (section.dataset.poll !== "yes") {
              section.dataset.poll = "yes";
              poll();
            }
          });
        });
    });
  }

  var button = section.querySelector("[data-action=check]");
  if (button) {
    button.addEventListener("click", function () {
      check().then(function (body) {
        var note = section.querySelector("[data-checked]");
        if (note) note.hidden = !(body && body.state === "waiting");
      });
    });
  }
})();
