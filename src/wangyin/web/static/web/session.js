// The idle-timeout countdown with "stay signed in" (SE-02). The server decides: this only
// shows its clock and asks it again; when the time is up the next page is the login page.

const timer = document.getElementById("session-timer");

if (timer) {
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const stay = document.createElement("button");
  stay.type = "button";
  stay.className = "link";
  stay.textContent = timer.dataset.stayLabel;
  const label = document.createElement("span");
  timer.append(label, " ", stay);
  let left = null;

  const show = () => {
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, "0");
    label.textContent = timer.dataset.leftLabel.replace("{time}", `${m}:${s}`);
  };
  const ask = async (url, options) => {
    const answer = await (await fetch(url, { credentials: "same-origin", ...options })).json();
    if (!answer.signed_in) {
      window.location.assign(timer.dataset.loginUrl);
      return;
    }
    left = answer.seconds_left;
    show();
  };
  stay.addEventListener("click", () => ask(timer.dataset.keepaliveUrl, {
    method: "POST", headers: { "X-CSRFToken": csrf },
  }));
  ask(timer.dataset.statusUrl);
  setInterval(() => {
    if (left === null) return;
    left -= 1;
    if (left <= 0) {
      left = null;
      ask(timer.dataset.statusUrl);
    } else {
      show();
    }
  }, 1000);
}
