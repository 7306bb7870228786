// Passkeys: asks doorman for a challenge (the form's data-begin URL, with
// the form's CSRF token), lets the browser's authenticator answer it, and
// posts the answer in the form's hidden `credential` field. Where the
// browser has no WebAuthn, the form says so and the other methods stay.
// What it says comes from its own script tag's data- attributes, in the
// page's language.
(function () {
  var script = document.currentScript || document.querySelector("script[data-no-answer]");
  function words(name) { return (script && script.getAttribute("data-" + name)) || ""; }
  var forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length) return;
  var supported = !!(window.PublicKeyCredential && navigator.credentials);
  function b64ToBuf(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function decodeOptions(mode, options) {
    var pk = options.publicKey;
    pk.challenge = b64ToBuf(pk.challenge);
    if (pk.user) pk.user.id = b64ToBuf(pk.user.id);
    (pk.excludeCredentials || []).concat(pk.allowCredentials || []).forEach(function (c) {
      c.id = b64ToBuf(c.id);
    });
    return { publicKey: pk };
  }
  function encode(credential) {
    var r = credential.response, out = {
      id: credential.id,
      rawId: bufToB64(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: bufToB64(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = bufToB64(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bufToB64(r.authenticatorData);
      out.response.signature = bufToB64(r.signature);
      out.response.userHandle = r.userHandle ? bufToB64(r.userHandle) : null;
    }
    return JSON.stringify(out);
  }
  Array.prototype.forEach.call(forms, function (form) {
    var mode = form.getAttribute("data-passkey");
    var status = form.querySelector("[data-passkey-status]");
    var button = form.querySelector("button[type=submit]");
    function say(text) { if (status) { status.textContent = text; status.hidden = false; } }
    if (!supported) {
      if (button) button.disabled = true;
      say(words("unsupported"));
      return;
    }
    if (button) button.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (button) button.disabled = true;
      say(words("prompt"));
      var body = new URLSearchParams();
      body.set("csrf", form.elements.csrf.value);
      fetch(form.getAttribute("data-begin"), {
        method: "POST", credentials: "same-origin", body: body,
        headers: { "Accept": "application/json" }
      })
        .then(function (r) {
          if (!r.ok) throw new Error("begin");
          return r.json();
        })
        .then(function (options) {
          var request = decodeOptions(mode, options);
          return mode === "create" ? navigator.credentials.create(request) : navigator.credentials.get(request);
        })
        .then(function (credential) {
          form.elements.credential.value = encode(credential);
          form.submit();
        })
        .catch(function () {
          if (button) button.disabled = false;
          say(words("no-answer"));
        });
    });
  });
})();
