// Signing with the leader's USB token from the page, through `edoc agent` on his own computer:
//   1. the agent reads the token's certificate (no PIN);
//   2. the e-office prepares the signature and returns the digest to sign;
//   3. the agent asks the PIN itself and the token signs the digest (the agent never sees the
//      document, only the 32/48/64-byte digest);
//   4. the e-office completes the signature and the page reloads with the new state.
// The agent answers only this page's origin and the pairing code it showed once.
(function () {
  "use strict";
  var box = document.getElementById("token-signing");
  if (!box) return;
  var lang = document.documentElement.lang === "en" ? "en" : "vi";
  var status = document.getElementById("sign-status");
  var urlInput = document.getElementById("agent-url");
  var codeInput = document.getElementById("agent-code");
  var settings = document.getElementById("agent-settings");
  var button = document.getElementById("sign-token");
  var store = window.localStorage;

  function agentUrl() { return (store.getItem("edoc.agent.url") || box.dataset.agent).replace(/\/+$/, ""); }
  function code() { return store.getItem("edoc.agent.code") || ""; }
  urlInput.value = agentUrl();
  function say(text, kind) { status.textContent = text; status.className = "status " + (kind || ""); }
  function message(body, fallback) {
    if (body && body.message_vi) return lang === "vi" ? body.message_vi : body.message_en;
    return fallback;
  }
  async function call(url, options, where) {
    var r;
    try { r = await fetch(url, options); } catch (e) {
      throw new Error(where === "agent"
        ? (lang === "vi" ? "Không kết nối được phần mềm ký (edoc agent) tại " + agentUrl() + ": hãy chạy edoc agent trên máy tính có cắm USB token."
                         : "cannot reach the signing agent (edoc agent) at " + agentUrl() + ": start edoc agent on the computer with the USB token.")
        : (lang === "vi" ? "Không kết nối được máy chủ văn phòng điện tử; thử lại." : "cannot reach the e-office server; try again."));
    }
    var body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error(message(body, (where === "agent" ? "edoc agent: " : "") + "HTTP " + r.status));
    return body;
  }
  function agent(path, options) {
    options = options || {};
    options.headers = Object.assign({ "X-Edoc-Pairing": code() }, options.headers || {});
    options.mode = "cors";
    options.credentials = "omit";
    return call(agentUrl() + path, options, "agent");
  }
  function office(path, payload) {
    return call(path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": window.edocCsrf() },
      body: JSON.stringify(payload) }, "office");
  }

  document.getElementById("agent-save").addEventListener("click", function () {
    store.setItem("edoc.agent.url", urlInput.value.trim() || box.dataset.agent);
    store.setItem("edoc.agent.code", codeInput.value.replace(/[^0-9]/g, ""));
    codeInput.value = "";
    settings.open = false;
    button.focus();
  });

  button.addEventListener("click", async function () {
    if (!code()) { settings.open = true; codeInput.focus(); return; }
    button.disabled = true;
    say(status.dataset.signing);
    try {
      var cert = await agent("/v1/certificate");
      var doc = box.dataset.doc;
      var prepared = await office("/api/v1/outgoing/" + doc + "/sign/prepare",
                                  { certificate: cert.certificate, chain: cert.chain || [] });
      var signed = await agent("/v1/sign", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ digest: prepared.digest, md: prepared.md, description: box.dataset.description }) });
      await office("/api/v1/outgoing/" + doc + "/sign/complete",
                   { pending_id: prepared.pending_id, signature: signed.signature });
      say(status.dataset.signed, "ok");
      window.location.assign("/outgoing/" + doc + "?done=signed");
    } catch (e) {
      say(e.message, "bad");
      button.disabled = false;
    }
  });
})();
