// Passkeys (WebAuthn): create one on the registration page, sign a step-up challenge, or
// sign in without a login name. The server sends the options; this file only converts
// between base64url and bytes.
const toBytes = (s) => Uint8Array.from(
  atob(s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=")),
  (c) => c.charCodeAt(0)).buffer;
const toText = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const state = (text) => { const el = document.getElementById("passkey-state"); if (el) el.textContent = text; };

const create = document.getElementById("passkey-create");
if (create) {
  create.addEventListener("click", async () => {
    const options = JSON.parse(create.dataset.options);
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    try {
      const cred = await navigator.credentials.create({ publicKey: options });
      const form = create.closest("form");
      form.querySelector("[name=credential]").value = JSON.stringify({
        id: cred.id, rawId: toText(cred.rawId), type: cred.type,
        response: {
          clientDataJSON: toText(cred.response.clientDataJSON),
          attestationObject: toText(cred.response.attestationObject),
          transports: cred.response.getTransports ? cred.response.getTransports() : [],
        },
      });
      form.submit();
    } catch (error) {
      state(create.dataset.failed || String(error));
    }
  });
}

const assertionJson = (cred) => JSON.stringify({
  id: cred.id, rawId: toText(cred.rawId), type: cred.type,
  response: {
    clientDataJSON: toText(cred.response.clientDataJSON),
    authenticatorData: toText(cred.response.authenticatorData),
    signature: toText(cred.response.signature),
    userHandle: cred.response.userHandle ? toText(cred.response.userHandle) : null,
  },
});

const get = document.getElementById("passkey-get");
if (get) {
  get.addEventListener("click", async () => {
    const options = JSON.parse(get.dataset.options);
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    try {
      const cred = await navigator.credentials.get({ publicKey: options });
      document.getElementById("passkey_assertion").value = assertionJson(cred);
      state("✓");
    } catch (error) {
      state(String(error));
    }
  });
}

// Sign-in: the options (a fresh single-use challenge) are asked for only when the customer
// presses the button; the authenticator then offers the passkeys it holds for this site.
const signIn = document.getElementById("passkey-login");
if (signIn && window.PublicKeyCredential) {
  const form = signIn.closest("form");
  form.hidden = false;
  signIn.addEventListener("click", async () => {
    state("");
    try {
      const answer = await fetch(signIn.dataset.optionsUrl, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value },
      });
      const options = await answer.json();
      if (!answer.ok) {
        state(options.error || signIn.dataset.failed);
        return;
      }
      options.challenge = toBytes(options.challenge);
      const cred = await navigator.credentials.get({ publicKey: options });
      form.querySelector("[name=assertion]").value = assertionJson(cred);
      form.submit();
    } catch (error) {
      state(signIn.dataset.failed);
    }
  });
}
