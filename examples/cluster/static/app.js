// The chat page of the cluster example: one WebSocket to
// /ws?name=NAME&last=ID on the node that served the page, JSON events from
// it, and reconnection with exponential backoff when the connection is lost.
// Every message carries its Stream ID; on reconnecting the page sends the
// last one it has and the node (this one or, behind a load balancer, any
// other) sends exactly the messages it missed.
"use strict";

const $ = (sel) => document.querySelector(sel);
const statusEl = $("#status");
const logEl = $("#log");
const textEl = $("#text");
const sendEl = $("#send");

let name = sessionStorage.getItem("chat-name") || "";
let ws = null;
let attempt = 0;     // failed connections since the last good one
let retryTimer = 0;
let countdown = 0;
let lastId = "";     // Stream ID of the last message shown

// Application close code: the server did not accept the name (see server.go).
const STATUS_INVALID_NAME = 4000;

function setStatus(state, text) {
  statusEl.className = "status " + state;
  statusEl.textContent = text;
}

function setCanSend(ok) {
  $("#room").classList.toggle("offline", !ok);
  textEl.disabled = !ok;
  sendEl.disabled = !ok;
  if (ok) textEl.focus();
}

function clock(ms) {
  const d = ms ? new Date(ms) : new Date();
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function addLine(li) {
  const atBottom = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 20;
  logEl.append(li);
  if (atBottom) logEl.scrollTop = logEl.scrollHeight;
  return li;
}

// Text always goes in with textContent: messages and names are never HTML.
function addMessage(ev) {
  if (ev.id) lastId = ev.id;
  const li = document.createElement("li");
  li.className = "msg" + (ev.name === name ? " mine" : "");
  li.dataset.id = ev.id || "";
  li.title = "via node " + (ev.node || "?") + ", stream ID " + (ev.id || "?");
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = clock(ev.time);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = ev.name;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = ev.text;
  li.append(time, who, text);
  return addLine(li);
}

function addNotice(text, kind) {
  const li = document.createElement("li");
  li.className = "notice" + (kind ? " " + kind : "");
  li.textContent = text;
  return addLine(li);
}

function showUsers(users, online) {
  const ul = $("#users");
  ul.replaceChildren(...users.map((u) => {
    const li = document.createElement("li");
    const who = document.createElement("span");
    who.textContent = u.name;
    const where = document.createElement("span");
    where.className = "node";
    where.textContent = u.node;
    li.append(who, where);
    return li;
  }));
  if (online > users.length) {
    const more = document.createElement("li");
    more.className = "more";
    more.textContent = "… and " + (online - users.length) + " more";
    ul.append(more);
  }
  $("#count").textContent = "(" + (online || users.length) + ")";
}

function connect() {
  clearTimeout(retryTimer);
  setStatus("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let url = scheme + location.host + "/ws?name=" + encodeURIComponent(name);
  if (lastId) url += "&last=" + encodeURIComponent(lastId);
  ws = new WebSocket(url);
  const sock = ws;

  sock.onopen = () => setStatus("connected", "connected as " + name);

  sock.onmessage = (e) => {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    switch (ev.type) {
      case "hello":
        attempt = 0; // a good connection: the next failure starts the backoff again
        $("#node").textContent = "node " + ev.node + " · room " + ev.room;
        if (ev.resumed) {
          // What was sent while this page was away, and nothing twice.
          if (ev.gap) addNotice("Some messages sent while you were away are too old to fetch.", "error");
          (ev.history || []).forEach(addMessage);
          addNotice("Reconnected to node " + ev.node + (ev.history ? "; " + ev.history.length + " missed." : "; nothing missed."));
        } else {
          logEl.replaceChildren();
          (ev.history || []).forEach(addMessage);
          addNotice("You joined as " + ev.name + " on node " + ev.node + ".");
        }
        showUsers(ev.users || [], ev.online);
        setCanSend(true);
        break;
      case "message":
        addMessage(ev);
        break;
      case "presence":
        (ev.joined || []).filter((u) => u !== name).forEach((u) => addNotice(u + " joined."));
        (ev.left || []).filter((u) => u !== name).forEach((u) => addNotice(u + " left."));
        showUsers(ev.users || [], ev.online);
        break;
      case "error":
        addNotice("Server: " + ev.text, "error");
        break;
    }
  };

  sock.onclose = (e) => {
    if (sock !== ws) return;
    ws = null;
    setCanSend(false);
    const why = e.code + (e.reason ? ": " + e.reason : "");
    if (e.code === STATUS_INVALID_NAME) {
      setStatus("closed", "closed");
      showJoin("That name was refused (" + e.reason + ").");
      return;
    }
    scheduleReconnect(why);
  };
}

// Reconnect after 0.5s, 1s, 2s … up to 15s, each with random jitter so a
// restarted server is not hit by every page at the same instant.
function scheduleReconnect(why) {
  const max = Math.min(15000, 500 * 2 ** attempt);
  const delay = Math.round(max / 2 + Math.random() * max / 2);
  attempt++;
  let left = Math.ceil(delay / 1000);
  const notice = addNotice("", "closed");
  const show = () => {
    const text = "Connection closed (" + why + "). Reconnecting in " + left + "s…";
    notice.textContent = text;
    setStatus("closed", "closed – retry in " + left + "s");
  };
  show();
  clearInterval(countdown);
  countdown = setInterval(() => { if (left > 1) { left--; show(); } }, 1000);
  retryTimer = setTimeout(() => { clearInterval(countdown); connect(); }, delay);
}

function showJoin(error) {
  $("#room").hidden = true;
  $("#join-form").hidden = false;
  const err = $("#join-error");
  err.hidden = !error;
  err.textContent = error || "";
  $("#name").value = name;
  $("#name").focus();
}

$("#join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  name = $("#name").value.trim();
  if (!name) return;
  sessionStorage.setItem("chat-name", name);
  $("#join-form").hidden = true;
  $("#room").hidden = false;
  attempt = 0;
  connect();
});

$("#send-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = textEl.value.trim();
  if (!text || !ws || ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({ type: "message", text }));
  textEl.value = "";
});

if (name) {
  $("#name").value = name;
}
