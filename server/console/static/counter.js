// The cashier page (docs/counter.md): a cart from the catalogue or a typed amount, a payment
// code from a USB scanner (it types 18 digits and Enter into the focused field) or a person,
// then the sale's state, polled until the loop on the server ends it. The server prices the
// products; the total shown here is only a preview.
(function () {
  "use strict";
  var root = document.getElementById("counter");
  if (!root) return;
  var cart = {}; // product id -> {name, price, quantity}
  var code = document.getElementById("counter-code");
  var amount = document.getElementById("counter-amount");
  var statusBox = document.getElementById("counter-status");
  var message = document.getElementById("counter-message");
  var reason = document.getElementById("counter-reason");
  var links = document.getElementById("counter-links");
  var busy = false;
  var AUTH_CODE = /^1[0-5]\d{16}$/;

  function yuan(fen) {
    return "¥" + Math.floor(fen / 100).toLocaleString("en") + "." + String(fen % 100).padStart(2, "0");
  }
  function typedFen() {
    var match = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(amount.value);
    if (!match) return 0;
    return parseInt(match[1], 10) * 100 + parseInt((match[2] || "0").padEnd(2, "0"), 10);
  }
  function render() {
    var body = document.querySelector("#counter-lines tbody");
    body.innerHTML = "";
    var total = 0;
    Object.keys(cart).forEach(function (id) {
      var line = cart[id];
      total += line.price * line.quantity;
      var row = document.createElement("tr");
      var name = document.createElement("td");
      name.textContent = line.name + " × " + line.quantity;
      var money = document.createElement("td");
      money.className = "num";
      money.textContent = yuan(line.price * line.quantity);
      var less = document.createElement("td");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "small-button";
      button.textContent = "−";
      button.addEventListener("click", function () {
        line.quantity -= 1;
        if (line.quantity <= 0) delete cart[id];
        render();
      });
      less.appendChild(button);
      row.append(name, money, less);
      body.appendChild(row);
    });
    if (!total) total = typedFen();
    document.getElementById("counter-total").textContent = yuan(total);
  }
  document.querySelectorAll(".counter-product").forEach(function (button) {
    button.addEventListener("click", function () {
      var id = button.dataset.productId;
      cart[id] = cart[id] || { name: button.dataset.name, price: parseInt(button.dataset.price, 10), quantity: 0 };
      cart[id].quantity = Math.min(99, cart[id].quantity + 1);
      amount.value = "";
      render();
      code.focus();
    });
  });
  amount.addEventListener("input", function () {
    if (amount.value) cart = {};
    render();
  });
  document.getElementById("counter-clear").addEventListener("click", reset);
  document.getElementById("counter-next").addEventListener("click", reset);

  function reset() {
    cart = {};
    amount.value = "";
    code.value = "";
    busy = false;
    show({ state: "IDLE", message: root.dataset.textReady || message.dataset.ready || "" });
    links.hidden = true;
    render();
    code.focus();
  }
  message.dataset.ready = message.textContent;

  function show(sale) {
    statusBox.dataset.state = sale.state;
    message.textContent = sale.message || "";
    reason.textContent = sale.reason_text || "";
    if (sale.final) {
      links.hidden = false;
      document.getElementById("counter-receipt").href = sale.receipt_url;
      document.getElementById("counter-receipt-a4").href = sale.receipt_url + "?paper=a4";
      document.getElementById("counter-order").href = sale.order_url;
    }
  }
  function fail(text) {
    busy = false;
    statusBox.dataset.state = "ERROR";
    message.textContent = text;
    reason.textContent = "";
    code.value = "";
    code.focus();
  }
  function poll(url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        show(data.sale);
        if (!data.sale.final) setTimeout(function () { poll(url); }, 1000);
      })
      .catch(function () { setTimeout(function () { poll(url); }, 2000); });
  }

  document.getElementById("counter-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return; // a double Enter: the server would answer the same sale anyway
    var value = code.value.replace(/\s+/g, "");
    if (!AUTH_CODE.test(value)) return fail(root.dataset.textInvalid);
    var items = Object.keys(cart).map(function (id) {
      return { product_id: parseInt(id, 10), quantity: cart[id].quantity };
    });
    var body = { auth_code: value };
    if (items.length) body.items = items;
    else if (typedFen() > 0) body.amount = typedFen();
    else return fail(root.dataset.textEmpty);
    busy = true;
    fetch(root.dataset.salesUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify(body),
    })
      .then(function (response) { return response.json().then(function (data) { return [response, data]; }); })
      .then(function (pair) {
        var data = pair[1];
        if (!pair[0].ok) return fail((data.error && data.error.message) || root.dataset.textFailed);
        code.value = "";
        show(data.sale);
        if (!data.sale.final) poll(root.dataset.salesUrl + "/" + data.sale.order_id);
      })
      .catch(function () { fail(root.dataset.textFailed); });
  });
  render();
})();
