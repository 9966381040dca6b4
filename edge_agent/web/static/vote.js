"use strict";
// The vote page: four answers per item; the tally appears only after this browser voted.
// Every value shown is set as text (textContent): nothing from the box is parsed as HTML.
const look = document.getElementById("look");
const base = look.dataset.base;
const banner = document.getElementById("banner");
const KEY = "edge-agent-friend-key";
const LABELS = { up: "Yes", down: "No", other_size: "other size", other_colour: "other colour" };

function say(text) { banner.textContent = text; banner.hidden = !text; }

async function post(path, body) {
  // same-origin referrer for this request: the box checks Origin, and the page itself sends no Referer
  return fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body), credentials: "same-origin", referrerPolicy: "same-origin" });
}

function showTally(tally) {
  document.querySelectorAll(".item").forEach(item => {
    const counts = tally[item.dataset.sku];
    if (!counts) return;
    let line = item.querySelector(".tally");
    if (!line) { line = document.createElement("p"); line.className = "tally"; item.append(line); }
    line.textContent = Object.keys(LABELS).map(v => `${LABELS[v]} ${counts[v] || 0}`).join(" · ");
  });
}

async function vote(item, value, button) {
  const response = await post("/votes", { sku: item.dataset.sku, value });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) {
    item.querySelectorAll(".answers button").forEach(b => b.classList.toggle("chosen", b === button));
    say("");
    showTally(answer.tally || {});
    return;
  }
  const why = { 403: "All seats for this look are taken: you can look, not vote.", 410: "This look is no longer shared.",
    429: "One answer per second, please.", 404: "This link does not exist." };
  say(why[response.status] || answer.error || "Something went wrong; try again.");
  if (response.status === 410) document.querySelectorAll(".answers button").forEach(b => { b.disabled = true; });
}

function key() {
  let k = localStorage.getItem(KEY);
  if (!k) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    k = Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(KEY, k);
  }
  return k;
}

document.querySelectorAll(".item").forEach(item => {
  item.querySelectorAll(".answers button").forEach(button =>
    button.addEventListener("click", () => vote(item, button.dataset.value, button)));
});
document.getElementById("remember").addEventListener("change", async event => {
  if (event.target.checked) await post("/remember", { key: key() });
});
document.getElementById("forget").addEventListener("click", async () => {
  const k = localStorage.getItem(KEY);
  if (k) await post("/forget", { key: k });
  localStorage.removeItem(KEY);
  document.getElementById("remember").checked = false;
  say("Forgotten: this box keeps nothing about you now.");
});
if (look.dataset.state !== "open") {
  say(look.dataset.state === "full" ? "All seats for this look are taken: you can look, not vote." : "This look is no longer shared.");
  document.querySelectorAll(".answers button").forEach(b => { b.disabled = true; });
}
if (look.dataset.seated === "voted") fetch(base + "/tally", { credentials: "same-origin" })
  .then(r => r.ok ? r.json() : null).then(a => a && showTally(a.tally));
