// The soft keyboard of password forms (AU-03, AU-05, AU-06, AU-07).
// Keys come from the server in a new order on every page load. Pressing a key records its
// *position* (and shift), never the character; on submit the positions and the page's
// single-use nonce are encrypted with a fresh AES-GCM key, which is wrapped with the
// bank's RSA-OAEP public key. Only the server, which knows the layout, can read them.

const encoder = new TextEncoder();
const MAX_KEYS = 32;

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

async function seal(publicKeyB64, payload) {
  const rsa = await crypto.subtle.importKey(
    "spki", fromBase64(publicKeyB64), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["wrapKey"]);
  const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const wrapped = new Uint8Array(await crypto.subtle.wrapKey("raw", aes, rsa, { name: "RSA-OAEP" }));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, encoder.encode(JSON.stringify(payload))));
  const out = new Uint8Array(wrapped.length + iv.length + sealed.length);
  out.set(wrapped, 0);
  out.set(iv, wrapped.length);
  out.set(sealed, wrapped.length + iv.length);
  return toBase64(out);
}

function setUp(form) {
  const inputs = [...form.querySelectorAll(".sk-field")];
  const typed = new Map(inputs.map((input) => [input.dataset.field, []]));
  const keys = [...form.querySelectorAll(".sk-key")];
  const position = new Map(keys.map((k) => [k.dataset.key, Number(k.dataset.pos)]));
  const shiftButton = form.querySelector(".sk-shift");
  let active = inputs[0];
  let shift = false;

  const show = (input) => { input.value = "\u2022".repeat(typed.get(input.dataset.field).length); };
  const press = (pos, shifted) => {
    const list = typed.get(active.dataset.field);
    if (list.length < MAX_KEYS) list.push([pos, shifted]);
    show(active);
  };

  for (const input of inputs) {
    input.addEventListener("focus", () => { active = input; });
    for (const blocked of ["paste", "copy", "cut", "drop", "contextmenu"]) {
      input.addEventListener(blocked, (event) => event.preventDefault());
    }
    input.addEventListener("keydown", (event) => {
      if (event.key === "Backspace") {
        typed.get(input.dataset.field).pop();
        show(input);
        event.preventDefault();
      } else if (event.key.length === 1 && !event.ctrlKey && !event.metaKey) {
        const lower = event.key.toLowerCase();
        if (position.has(lower)) press(position.get(lower), event.key !== lower);
        event.preventDefault();
      }
    });
  }
  for (const key of keys) {
    key.addEventListener("click", () => { press(Number(key.dataset.pos), shift); active.focus(); });
  }
  shiftButton.addEventListener("click", () => {
    shift = !shift;
    shiftButton.setAttribute("aria-pressed", String(shift));
    for (const key of keys) {
      if (/^[a-z]$/.test(key.dataset.key)) key.textContent = shift ? key.dataset.key.toUpperCase() : key.dataset.key;
    }
  });
  form.querySelector(".sk-back").addEventListener("click", () => {
    typed.get(active.dataset.field).pop();
    show(active);
    active.focus();
  });
  form.querySelector(".sk-clear").addEventListener("click", () => {
    typed.set(active.dataset.field, []);
    show(active);
    active.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const payload = { nonce: form.dataset.nonce, fields: Object.fromEntries(typed) };
    form.elements.payload.value = await seal(form.dataset.publicKey, payload);
    form.submit();
  });
  active.focus();
}

document.querySelectorAll("form.secure-form").forEach(setUp);
