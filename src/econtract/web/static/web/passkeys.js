/* Passkeys (WebAuthn): registration on the security page, assertion at the login's second step and
   in the signing ceremony (the assertion travels in the sign form's hidden "webauthn" field).
   The server sends the options as JSON with base64url binary fields and checks everything itself;
   this file only converts between base64url and ArrayBuffer and calls navigator.credentials. */
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = toBytes(item.id);
      return copy;
    });
  }

  function post(form, url, body) {
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || data.error || String(response.status));
        return data;
      });
    });
  }

  function serialise(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = toText(response.userHandle);
    }
    return out;
  }

  function showError(form, message) {
    var slot = form.querySelector("#passkey-error");
    if (!slot) return;
    slot.textContent = message;
    slot.hidden = false;
  }

  function supported(form) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    showError(form, form.dataset.unsupported);
    return false;
  }

  function register(form) {
    if (!supported(form)) return;
    var name = (form.querySelector("#passkey-name") || {}).value || "";
    post(form, form.dataset.optionsUrl)
      .then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      })
      .then(function (credential) {
        return post(form, form.dataset.registerUrl, { name: name, credential: serialise(credential) });
      })
      .then(function (result) { window.location.assign(result.redirect); })
      .catch(function (error) { showError(form, form.dataset.failed + " " + (error.message || "")); });
  }

  function assert(form) {
    if (!supported(form)) return;
    post(form, form.dataset.optionsUrl)
      .then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      })
      .then(function (credential) {
        return post(form, form.dataset.verifyUrl, { credential: serialise(credential) });
      })
      .then(function (result) { window.location.assign(result.redirect); })
      .catch(function (error) { showError(form, form.dataset.failed + " " + (error.message || "")); });
  }

  /* Signing: the options are bound to purpose "sign" and the party; the answer waits in the form
     and is verified by the server with the codes, before the PIN unwraps the key. */
  function confirmForSigning(button) {
    var step = button.closest("#sign-passkey-step");
    var form = button.closest("form");
    var done = step.querySelector("#sign-passkey-done");
    var field = form.querySelector("input[name=webauthn]");
    if (!supported(step)) return;
    button.disabled = true;
    post(form, step.dataset.optionsUrl)
      .then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      })
      .then(function (credential) {
        field.value = JSON.stringify(serialise(credential));
        step.querySelector("#passkey-error").hidden = true;
        button.hidden = true;
        done.hidden = false;
      })
      .catch(function (error) {
        field.value = "";
        button.disabled = false;
        showError(step, step.dataset.failed + " " + (error.message || ""));
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#sign-passkey") : null;
    if (button) {
      event.preventDefault();
      confirmForSigning(button);
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "passkey-register-form") {
      event.preventDefault();
      register(form);
    } else if (form.id === "passkey-login-form") {
      event.preventDefault();
      assert(form);
    }
  });
})();
