"use strict";
// Every value from the agent is set as text (textContent): nothing a shopper, a mirror or a till
// sends is ever read as HTML. The page's Content-Security-Policy allows only the box's own files.
const list = document.getElementById("alerts");
const live = document.getElementById("live");
const labels = { ack: "Acknowledged", accepted: "Offer accepted", dismissed: "Dismissed", bought: "Bought at the till" };
const TIERS = ["bronze", "silver", "gold", "platinum"];
const seen = new Map();

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function ago(ts) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 60000));
  return minutes < 1 ? "just arrived" : `in store ${minutes} min`;
}

function money(amount) {
  return Number(amount).toLocaleString([], { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function place(zone) {
  return String(zone || "").replace(/-/g, " ");
}

function markDone(card, action) {
  const actions = card.querySelector(".actions");
  if (!actions) return;
  card.classList.add("done");
  actions.remove();
  const taken = card.classList.contains("size-request") && action === "ack";
  card.append(el("div", "status", taken ? "Someone is on the way" : labels[action] || action));
}

function refreshFacts(card) {
  const facts = card.querySelector(".facts");
  const prefix = card.classList.contains("size-request") ? "" : `${ago(card.dataset.ts)} · `;
  facts.textContent = prefix + (facts.dataset.suffix || "");
}

function setAccept(card) {  // Accepted is the primary action only once an offer is chosen
  const accept = card.querySelector('.actions button[data-action="accepted"]');
  if (!accept) return;
  const chosen = card.querySelector(".offer.selected");
  const offered = card.querySelectorAll(".offer").length > 0;
  accept.classList.toggle("primary", Boolean(chosen));
  accept.disabled = offered && !chosen;
}

function renderOffers(card, alert, offers) {
  const box = card.querySelector(".offers");
  if (!box) return;
  const chosen = box.querySelector(".offer.selected");
  const keep = chosen ? chosen.dataset.offerId : null;
  box.replaceChildren();
  offers.forEach(offer => {
    const li = el("li", "offer");
    const radio = el("input");
    radio.type = "radio";
    radio.name = `o-${alert.alert_id}`;
    const text = el("div");
    text.append(el("b", "", offer.title), el("small", "", offer.reason));
    const bar = el("div", "bar");
    const fill = el("i");
    fill.style.width = `${Math.max(0, Math.min(100, Math.round(Number(offer.score) * 100)))}%`;
    bar.append(fill);
    li.append(radio, text, bar);
    li.dataset.offerId = offer.offer_id;
    if (offer.offer_id === keep) { li.classList.add("selected"); radio.checked = true; }
    li.addEventListener("click", () => {
      box.querySelectorAll(".offer").forEach(o => o.classList.remove("selected"));
      li.classList.add("selected");
      radio.checked = true;
      setAccept(card);
    });
    box.append(li);
  });
  if (!offers.length) box.append(el("li", "none", "No eligible offers right now."));
  setAccept(card);
}

function showActivity(card, mirror) {
  let box = card.querySelector(".activity");
  if (!box) { box = el("div", "activity facts"); card.querySelector(".facts").after(box); }
  const part = (label, items) => items && items.length ? `${label}: ${items.map(i => i.title).join(", ")}` : "";
  box.textContent = [part("Tried", mirror.tried), part("Liked", mirror.liked), part("Disliked", mirror.disliked)]
    .filter(Boolean).join(" · ");
}

function showFriends(card, friends) {  // counts and the weighted advice only: never who voted
  let box = card.querySelector(".friends");
  if (!box) { box = el("div", "friends facts"); (card.querySelector(".activity") || card.querySelector(".facts")).after(box); }
  const advice = Number(friends.advice || 0);
  box.textContent = `Friends: ${friends.up} up, ${friends.down} down (advice ${advice >= 0 ? "+" : ""}${advice.toFixed(1)})`;
}

function showBought(card, bought) {
  let box = card.querySelector(".bought");
  if (!box) { box = el("div", "bought"); (card.querySelector(".offers") || card.querySelector(".facts")).before(box); }
  box.textContent = "Bought: " + bought.map(b => `${b.title}, ${money(b.amount)}`).join(" · ");
}

function update(change) {  // the card follows the visit: zone, mirror, offers, purchases, actions, leaving
  const card = seen.get(change.alert_id);
  if (!card) return;
  if (change.zone) card.querySelector(".zone").textContent = place(change.zone);
  if (change.mirror && card.querySelector(".offers")) showActivity(card, change.mirror);
  if (change.friends && card.querySelector(".offers")) showFriends(card, change.friends);
  if (change.offers) renderOffers(card, { alert_id: change.alert_id }, change.offers);
  if (change.bought) showBought(card, change.bought);
  if (change.action) markDone(card, change.action);
  if (change.left) {  // the card moves to the history list below the live ones
    card.classList.add("left");
    card.querySelector(".zone").textContent = "left the store";
    const history = document.getElementById("history");
    history.hidden = false;
    history.querySelector("h3").after(card);
  }
}

function renderSizeRequest(alert, card) {
  card.classList.add("size-request");
  card.querySelector(".avatar").textContent = String(alert.size || "?").slice(0, 4);
  card.querySelector("h2").textContent = `Size ${alert.size || "?"} · ${alert.title || alert.sku}`;
  const tier = card.querySelector(".tier");
  tier.textContent = "fitting room";
  tier.classList.add("room");
  card.querySelector(".zone").textContent = place(alert.zone);
  const who = alert.display_name ? `for ${alert.display_name} · ` : "";
  card.querySelector(".facts").dataset.suffix = `${who}${alert.sku} at ${alert.device_id}`;
  card.querySelector(".offers").remove();
  const actions = card.querySelector(".actions");
  const go = el("button", "primary", "On my way");
  go.type = "button";
  go.dataset.action = "ack";
  actions.replaceChildren(go);
}

function renderEntry(alert, card) {
  const name = alert.display_name || alert.customer_id;
  const avatar = card.querySelector(".avatar");
  avatar.textContent = String(name).split(/\s+/).filter(Boolean).map(w => w[0]).join("").slice(0, 2).toUpperCase();
  const tier = card.querySelector(".tier");
  tier.textContent = alert.tier;
  if (TIERS.includes(alert.tier)) { avatar.classList.add(alert.tier); tier.classList.add(alert.tier); }
  card.querySelector("h2").textContent = name;
  card.querySelector(".zone").textContent = place(alert.zone);
  const arrived = new Date(alert.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  // The visits line only when no hint already says how often they come.
  const told = (alert.hints || []).some(h => ["regular", "first_visit", "lapsed"].includes(h.kind));
  const visits = alert.visits_90d != null && !told ? ` · ${alert.visits_90d} visits in 90 days` : "";
  card.querySelector(".facts").dataset.suffix = `arrived ${arrived}${visits}`;
  const offers = card.querySelector(".offers");
  (alert.hints || []).forEach(hint => {
    const p = el("p", "hint", hint.text);
    p.dataset.kind = hint.kind;
    offers.before(p);
  });
  renderOffers(card, alert, alert.offers || []);
  if (alert.mirror) showActivity(card, alert.mirror);
  if (alert.friends) showFriends(card, alert.friends);
  if (alert.bought) showBought(card, alert.bought);
}

function render(alert) {
  if (seen.has(alert.alert_id)) return;
  const card = document.getElementById("card").content.firstElementChild.cloneNode(true);
  card.dataset.alertId = alert.alert_id;
  card.dataset.ts = alert.ts;
  if (alert.kind === "size_request") renderSizeRequest(alert, card);
  else renderEntry(alert, card);
  refreshFacts(card);
  card.querySelectorAll(".actions button").forEach(button => button.addEventListener("click", () => act(card, alert, button)));
  if (alert.action) markDone(card, alert.action);
  seen.set(alert.alert_id, card);
  document.getElementById("empty").hidden = true;
  list.prepend(card);
  if (alert.left) update({ alert_id: alert.alert_id, left: true });
}

async function act(card, alert, button) {
  const selected = card.querySelector(".offer.selected");
  const body = { action: button.dataset.action };
  if (body.action === "accepted" && selected) body.offer_id = selected.dataset.offerId;
  button.disabled = true;
  const response = await fetch(`/api/alerts/${encodeURIComponent(alert.alert_id)}/ack`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (response.ok) markDone(card, body.action); else button.disabled = false;
}

function connect() {
  const source = new EventSource("/api/alerts/stream");  // reconnects by itself, sending Last-Event-ID
  source.addEventListener("open", () => { live.textContent = "Live"; live.classList.remove("down"); });
  source.addEventListener("error", () => { live.textContent = "Reconnecting…"; live.classList.add("down"); });
  source.addEventListener("alert", event => render(JSON.parse(event.data)));
  source.addEventListener("update", event => update(JSON.parse(event.data)));
}

function tick() {
  document.getElementById("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  document.querySelectorAll(".card").forEach(refreshFacts);
}

setInterval(tick, 15000);
tick();
connect();
