// Passkeys: the only script of the front end. Options come from the server as JSON
// (base64url fields), the browser's credential goes back as JSON with the CSRF token in a header.
"use strict";
(function () {
  function toBuffer(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), s = "";
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // The browser's own errors (DOMException: cancelled, timed out, already registered, …) in the
  // page's language, from the error box's data attributes; the server's refusals come as text.
  var BROWSER_ERRORS = {NotAllowedError: "notAllowed", AbortError: "notAllowed",
    InvalidStateError: "invalidState", SecurityError: "security", NotSupportedError: "unsupported"};
  function browserMessage(e) {
    var box = document.getElementById("passkey-error");
    if (typeof DOMException !== "undefined" && e instanceof DOMException) {
      return box.dataset[BROWSER_ERRORS[e.name] || "other"] || box.dataset.other;
    }
    return e.message || String(e);
  }
  function showError(text) {
    var box = document.getElementById("passkey-error");
    box.textContent = text; box.hidden = false; box.focus();
  }
  async function post(url, csrf, body) {
    var r = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)});
    return r.json();
  }
  async function getOptions(button) {
    var url = button.dataset.options, csrf = button.dataset.csrf;
    var r = url.indexOf("/login/") === 0
      ? await (await fetch(url, {credentials: "same-origin"})).json()
      : await post(url, csrf, {});
    if (r.error) { throw new Error(r.error); }
    return r;
  }
  function credentialJSON(cred) {
    var resp = cred.response, out = {id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined, response: {
        clientDataJSON: toB64url(resp.clientDataJSON)}};
    if (resp.attestationObject) {
      out.response.attestationObject = toB64url(resp.attestationObject);
      if (resp.getTransports) { out.response.transports = resp.getTransports(); }
    } else {
      out.response.authenticatorData = toB64url(resp.authenticatorData);
      out.response.signature = toB64url(resp.signature);
      if (resp.userHandle) { out.response.userHandle = toB64url(resp.userHandle); }
    }
    return out;
  }
  async function login(button) {
    var r = await getOptions(button), o = r.options;
    var publicKey = Object.assign({}, o, {challenge: toBuffer(o.challenge),
      allowCredentials: (o.allowCredentials || []).map(function (c) {
        return Object.assign({}, c, {id: toBuffer(c.id)}); })});
    var cred = await navigator.credentials.get({publicKey: publicKey});
    return post(button.dataset.post, button.dataset.csrf, {credential: credentialJSON(cred)});
  }
  async function register(button) {
    var r = await getOptions(button), o = r.options;
    var publicKey = Object.assign({}, o, {challenge: toBuffer(o.challenge),
      user: Object.assign({}, o.user, {id: toBuffer(o.user.id)}),
      excludeCredentials: (o.excludeCredentials || []).map(function (c) {
        return Object.assign({}, c, {id: toBuffer(c.id)}); })});
    var cred = await navigator.credentials.create({publicKey: publicKey});
    var name = document.getElementById("passkey_name");
    return post(button.dataset.post, button.dataset.csrf, {registration_id: r.registration_id,
      credential: credentialJSON(cred), name: name ? name.value : undefined});
  }
  function wire(id, ceremony) {
    var button = document.getElementById(id);
    if (!button) { return; }
    button.addEventListener("click", async function () {
      button.disabled = true;
      try {
        var answer = await ceremony(button);
        if (answer.error) { showError(answer.error); } else { window.location = answer.next; }
      } catch (e) {
        showError(browserMessage(e));
      } finally { button.disabled = false; }
    });
  }
  wire("passkey-login", login);
  wire("passkey-add", register);
})();
