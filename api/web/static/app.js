// edoc e-office page behaviour: small and optional — every action is also a plain form.
(function () {
  "use strict";
  function csrf() {
    var m = document.cookie.match(/(?:^|; )edoc_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  // htmx requests carry the session's anti-forgery token like the forms do
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrf();
    // a search sends only the fields filled in: an empty date ("from=") is no date (422)
    if (e.detail.verb === "get" && e.detail.formData) {
      var empty = [];
      e.detail.formData.forEach(function (v, k) { if (v === "") empty.push(k); });
      empty.forEach(function (k) { e.detail.formData.delete(k); });
    }
  });
  // dialogs: a button with data-dialog opens one (focus goes to its first field; Esc closes)
  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-dialog]");
    if (opener) {
      var d = document.getElementById(opener.getAttribute("data-dialog"));
      if (d && d.showModal) {
        d.showModal();
        var first = d.querySelector("textarea, input:not([type=hidden]), select");
        if (first) first.focus();
        d.addEventListener("close", function () { opener.focus(); }, { once: true });
      }
    }
    var closer = e.target.closest("dialog [data-close]");
    if (closer) closer.closest("dialog").close();
  });
  // a list filter: typing in [data-filter] hides the items that do not contain the words
  document.addEventListener("input", function (e) {
    var sel = e.target.getAttribute && e.target.getAttribute("data-filter");
    if (!sel) return;
    var words = e.target.value.toLowerCase().normalize("NFC").split(/\s+/).filter(Boolean);
    document.querySelectorAll(sel).forEach(function (li) {
      var text = li.textContent.toLowerCase().normalize("NFC");
      var checked = li.querySelector("input:checked");
      li.hidden = !checked && !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });
  window.edocCsrf = csrf;
})();
