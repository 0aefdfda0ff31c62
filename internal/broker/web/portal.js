// The portal's connect flow: ask the broker for a session (it starts a
// stopped desktop; poll while it starts), then open the desktop through
// the gateway's WebSocket with the single-use ticket as the first message,
// and show the guest's text protocol in a terminal view.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const status = document.getElementById("status");
  const term = document.getElementById("terminal");
  const send = document.getElementById("send");
  const line = document.getElementById("line");
  const btn = document.getElementById("connect");
  let ws = null;

  function say(s) { status.textContent = s; }

  async function request() {
    const r = await fetch("/portal/connect", {method: "POST", headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"});
    const v = await r.json();
    if (!r.ok) { say("Cannot connect: " + (v.message || r.status)); return; }
    if (v.state !== "active") {
      say("Your desktop is " + (v.desktop_state || v.state) + (v.reason ? " (" + v.reason + ")" : "") + "; waiting…");
      setTimeout(request, Math.min((v.retry_after || 5), 5) * 1000);
      return;
    }
    if (!v.ticket) { say("No gateway is available."); return; }
    open(v);
  }

  function open(v) {
    let url = v.gateway_url;
    if (url.startsWith("/")) url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + url;
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const dec = new TextDecoder();
    ws.onopen = function () {
      ws.send(v.ticket);
      say("Connected to " + v.workspace_id + " (" + v.protocol + ") through gateway " + v.gateway + ".");
      term.hidden = false; send.hidden = false; line.focus();
    };
    ws.onmessage = function (ev) {
      term.textContent += typeof ev.data === "string" ? ev.data : dec.decode(ev.data, {stream: true});
      term.scrollTop = term.scrollHeight;
    };
    ws.onclose = function (ev) { say("Disconnected" + (ev.reason ? ": " + ev.reason : "") + "."); send.hidden = true; };
  }

  send.addEventListener("submit", function (e) {
    e.preventDefault();
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(new TextEncoder().encode(line.value + "\n"));
    line.value = "";
  });
  if (btn) btn.addEventListener("click", function () { say("Requesting your desktop…"); request(); });
})();
