// Soft certificate (FA-06): a P-256 key pair made by the browser's WebCrypto with the
// private key NOT extractable, kept in this browser's IndexedDB (so bound to this device).
// Enrolment sends a PKCS#10 signing request; a step-up sends an ECDSA signature over the
// exact text the bank shows. Both are DER, as X.509 expects; WebCrypto signs as r || s.
const STORE = "keys";
const SLOT = "current";

const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const length = (n) => (n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]);
const tlv = (tag, ...parts) => {
  const body = concat(parts);
  return concat([Uint8Array.of(tag, ...length(body.length)), body]);
};
const integer = (bytes) => {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
  const trimmed = bytes.slice(i);
  return tlv(0x02, trimmed[0] & 0x80 ? concat([Uint8Array.of(0), trimmed]) : trimmed);
};
const COMMON_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03); // 2.5.4.3
const ECDSA_SHA256 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02);
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGN = { name: "ECDSA", hash: "SHA-256" };

const derSignature = (raw) => {
  const r = new Uint8Array(raw.slice(0, raw.byteLength / 2));
  const s = new Uint8Array(raw.slice(raw.byteLength / 2));
  return tlv(0x30, integer(r), integer(s));
};
const base64 = (bytes) => btoa(String.fromCharCode(...bytes));

const database = () => new Promise((resolve, reject) => {
  const open = indexedDB.open("wangyin-softcert", 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  open.onsuccess = () => resolve(open.result);
  open.onerror = () => reject(open.error);
});
const store = async (mode, action) => {
  const db = await database();
  return new Promise((resolve, reject) => {
    const request = action(db.transaction(STORE, mode).objectStore(STORE));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
};

async function signingRequest() {
  const pair = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
  await store("readwrite", (s) => s.put(pair, SLOT));
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const subject = tlv(0x30, tlv(0x31, tlv(0x30, COMMON_NAME,
    tlv(0x0c, new TextEncoder().encode("wangyin-softcert")))));
  const info = tlv(0x30, Uint8Array.of(0x02, 0x01, 0x00), subject, spki, Uint8Array.of(0xa0, 0x00));
  const signature = derSignature(await crypto.subtle.sign(SIGN, pair.privateKey, info));
  return base64(tlv(0x30, info, tlv(0x30, ECDSA_SHA256), tlv(0x03, Uint8Array.of(0), signature)));
}

async function sign(text) {
  const pair = await store("readonly", (s) => s.get(SLOT));
  if (!pair) throw new Error("no key on this device");
  const raw = await crypto.subtle.sign(SIGN, pair.privateKey, new TextEncoder().encode(text));
  return base64(derSignature(raw));
}

const state = (text) => { const el = document.getElementById("softcert-state"); if (el) el.textContent = text; };

const create = document.getElementById("softcert-create");
if (create) {
  create.addEventListener("click", async () => {
    create.disabled = true;
    try {
      const form = create.closest("form");
      form.querySelector("[name=request]").value = await signingRequest();
      form.submit();
    } catch (error) {
      create.disabled = false;
      state(create.dataset.failed);
    }
  });
}

const signButton = document.getElementById("softcert-sign");
if (signButton) {
  signButton.addEventListener("click", async () => {
    try {
      document.getElementById("softcert_signature").value = await sign(signButton.dataset.payload);
      state("✓ " + signButton.dataset.done);
    } catch (error) {
      state(signButton.dataset.failed);
    }
  });
}
