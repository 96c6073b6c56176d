// U盾 (USB-Key, FA-05) through the agent the customer runs next to the browser
// (`wangyin-usbkey serve`). The page asks the agent for a signing request or a signature;
// the agent shows the text on its own window — the key's screen — where the holder types
// the PIN and presses confirm. This page never sees the PIN; it only collects the result.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(agent, path, body) {
  const response = await fetch(agent + path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || "agent");
  return data;
}

class Refused extends Error {}

// The key the bank bound to the holder, when the page names it (the corporate pages name
// the operator's key for the company): the agent signs with it without asking which key.
const serial = document.querySelector('meta[name="wangyin-usbkey-serial"]')?.content || "";

// Open the key's window (now, while the click still counts as the customer's), ask, wait.
async function onTheKey(agent, kind, payload) {
  const popup = window.open("about:blank", "usbkey", "popup,width=520,height=640");
  try {
    const { id, confirm_url: confirmUrl } = await call(agent, "/requests",
      serial ? { kind, payload, serial } : { kind, payload });
    if (popup) popup.location = confirmUrl;
    for (;;) {
      await sleep(400);
      const answer = await call(agent, `/requests/${id}`);
      if (answer.state === "done") return answer.result;
      if (answer.state !== "pending") throw new Refused(answer.error);
    }
  } finally {
    if (popup) setTimeout(() => popup.close(), 1500);
  }
}

const say = (text) => { const el = document.getElementById("usbkey-state"); if (el) el.textContent = text; };

async function ask(button, kind, payload, done) {
  button.disabled = true;
  say(button.dataset.waiting);
  try {
    done(await onTheKey(button.dataset.agent || document.querySelector("[data-agent]").dataset.agent, kind, payload));
  } catch (error) {
    say(error instanceof Refused ? button.dataset.refused : button.dataset.failed);
    button.disabled = false;
  }
}

// Enrolment: the key makes its key pair and request; the form goes to the bank.
const requestButton = document.getElementById("usbkey-request");
if (requestButton) {
  requestButton.addEventListener("click", () => {
    const form = requestButton.closest("form");
    if (!form.reportValidity()) return;
    ask(requestButton, "csr", "", (request) => {
      form.querySelector("[name=request]").value = request;
      form.submit();
    });
  });
}

// Result page: write the issued certificate to the key.
const installed = document.querySelector("[data-certificate]");
if (installed) {
  const retry = document.getElementById("usbkey-install");
  const install = async () => {
    const agent = document.querySelector("[data-agent]").dataset.agent;
    try {
      await call(agent, "/certificate", { certificate: installed.dataset.certificate });
      say(installed.dataset.done);
      retry.hidden = true;
    } catch (error) {
      say(installed.dataset.failed);
      retry.hidden = false;
    }
  };
  retry.addEventListener("click", install);
  install();
}

// Step-up: the key signs exactly the text shown on this page (and on its own screen).
const signButton = document.getElementById("usbkey-sign");
if (signButton) {
  signButton.addEventListener("click", () => ask(signButton, "sign", signButton.dataset.payload,
    (signature) => {
      document.getElementById("usbkey_signature").value = signature;
      say("✓ " + signButton.dataset.done);
    }));
}
