// The voting board: one WebSocket to /ws. The server pushes the whole board
// ({"type":"counts",...}) after every vote; a vote is {"type":"vote","candidate":NAME}.
// The page reconnects with exponential backoff when the connection is lost.
"use strict";

const $ = (sel) => document.querySelector(sel);
const statusEl = $("#status");
const boardEl = $("#board");
const errorEl = $("#error");

let ws = null;
let attempt = 0;
let seq = 0;          // newest board shown
let errorTimer = 0;
const cards = new Map(); // candidate name -> its card

function setStatus(state, text) {
  statusEl.className = "status " + state;
  statusEl.textContent = text;
}

function showError(text) {
  errorEl.textContent = text;
  errorEl.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { errorEl.hidden = true; }, 5000);
}

function setEnabled(ok) {
  for (const card of cards.values()) card.disabled = !ok;
}

function card(name) {
  let el = cards.get(name);
  if (el) return el;
  el = document.createElement("button");
  el.type = "button";
  el.className = "candidate";
  el.dataset.name = name;
  const n = document.createElement("span");
  n.className = "name";
  n.textContent = name;
  const v = document.createElement("span");
  v.className = "votes";
  v.textContent = "0";
  const bar = document.createElement("span");
  bar.className = "bar";
  const fill = document.createElement("span");
  fill.className = "fill";
  bar.append(fill);
  const pct = document.createElement("span");
  pct.className = "pct";
  el.append(n, v, bar, pct);
  el.addEventListener("click", () => vote(name));
  boardEl.append(el);
  cards.set(name, el);
  return el;
}

function render(b) {
  if (b.seq <= seq) return; // never go back to an older board
  seq = b.seq;
  $("#title").textContent = b.title;
  document.title = b.title + " · fullduplex vote";
  $("#total").textContent = b.total;
  $("#online").textContent = b.online;
  const top = Math.max(0, ...b.candidates.map((c) => c.votes));
  for (const c of b.candidates) {
    const el = card(c.name);
    const votesEl = el.querySelector(".votes");
    if (votesEl.textContent !== String(c.votes)) {
      votesEl.textContent = c.votes;
      el.classList.remove("bump");
      void el.offsetWidth; // restart the animation
      el.classList.add("bump");
    }
    const share = b.total ? c.votes / b.total : 0;
    el.querySelector(".fill").style.width = (share * 100).toFixed(1) + "%";
    el.querySelector(".pct").textContent = Math.round(share * 100) + "%";
    el.classList.toggle("leading", c.votes > 0 && c.votes === top);
  }
}

function vote(name) {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    showError("Not connected; your vote was not sent.");
    return;
  }
  ws.send(JSON.stringify({ type: "vote", candidate: name }));
}

function connect() {
  setStatus("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const sock = new WebSocket(scheme + location.host + "/ws");
  ws = sock;

  sock.onopen = () => {
    seq = 0; // a new server may start counting again
    setStatus("connected", "connected");
    setEnabled(true);
  };
  sock.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    if (m.type === "counts") {
      attempt = 0; // a working connection: the next failure starts the backoff again
      render(m);
      setEnabled(true);
    } else if (m.type === "error") {
      showError("Vote rejected: " + m.error);
    }
  };
  sock.onclose = (e) => {
    if (sock !== ws) return;
    ws = null;
    setEnabled(false);
    // 0.5s, 1s, 2s … up to 15s, with jitter so pages do not all return at once.
    const max = Math.min(15000, 500 * 2 ** attempt);
    const delay = Math.round(max / 2 + Math.random() * max / 2);
    attempt++;
    const why = e.code + (e.reason ? ": " + e.reason : "");
    let left = Math.ceil(delay / 1000);
    const show = () => setStatus("closed", "closed (" + why + ") – retry in " + left + "s");
    show();
    const tick = setInterval(() => { if (left > 1) { left--; show(); } }, 1000);
    setTimeout(() => { clearInterval(tick); connect(); }, delay);
  };
}

connect();
