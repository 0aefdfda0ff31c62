// The portal's connect flow: ask the broker for a session (it starts a
// stopped desktop; poll while it starts), then open the desktop through
// the gateway's WebSocket with the single-use ticket as the first message:
// VNC desktops in noVNC (its RFB module, served from the installed package
// at /portal/novnc/), the built-in guest's text protocol in a terminal
// view. The desktops table follows GET /portal/api/desktops. Once
// connected, the address bar shows the session's own page,
// /portal/sessions/{id}, which connects again when loaded.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const status = document.getElementById("status");
  const term = document.getElementById("terminal");
  const screen = document.getElementById("screen");
  const send = document.getElementById("send");
  const line = document.getElementById("line");
  const btn = document.getElementById("connect");
  const table = document.getElementById("desktops");
  let ws = null;
  let rfb = null;
  let novncError = "";

  function say(s) { status.textContent = s; }

  // refresh updates the table's state, session and connection cells.
  async function refresh() {
    try {
      const r = await fetch("/portal/api/desktops", {credentials: "same-origin", cache: "no-store"});
      if (!r.ok) return;
      const v = await r.json();
      novncError = v.novnc_error || "";
      const rows = table.querySelectorAll("tr");
      (v.desktops || []).forEach(function (d, i) {
        const row = rows[i + 1];
        if (!row) return;
        row.querySelector(".desktop").textContent = d.workspace_id || "";
        row.querySelector(".state").textContent = d.state || "";
        row.querySelector(".session").textContent = d.session || "";
        row.querySelector(".connection").textContent = d.connection || "";
      });
    } catch (e) { /* the next poll tries again */ }
  }

  function wsURL(v) {
    let url = v.gateway_url;
    if (url.startsWith("/")) url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + url;
    return url;
  }

  async function request() {
    const r = await fetch("/portal/connect", {method: "POST", headers: {"X-CSRF-Token": csrf}, credentials: "same-origin"});
    const v = await r.json();
    refresh();
    if (!r.ok) { say("Cannot connect: " + (v.message || r.status)); return; }
    if (v.state !== "active") {
      say("Your desktop is " + (v.desktop_state || v.state) + (v.reason ? " (" + v.reason + ")" : "") + "; waiting…");
      setTimeout(request, Math.min((v.retry_after || 5), 5) * 1000);
      return;
    }
    if (!v.ticket) { say("No gateway is available."); return; }
    // The address bar names the session: reloading it opens it again.
    history.replaceState(null, "", "/portal/sessions/" + encodeURIComponent(v.session_id));
    if (btn.dataset.viewer === "novnc") openVNC(v); else openTerminal(v);
  }

  async function openVNC(v) {
    await refresh();
    if (novncError) { say("Cannot open the VNC desktop: " + novncError); return; }
    let RFB;
    try {
      RFB = (await import("/portal/novnc/core/rfb.js")).default;
    } catch (e) {
      const r = await fetch("/portal/novnc/core/rfb.js", {cache: "no-store"}).catch(function () { return null; });
      say("Cannot open the VNC desktop: " + (r && !r.ok ? await r.text() : "noVNC did not load (" + e + ")"));
      return;
    }
    // The socket is ours: the ticket goes first, then noVNC speaks RFB
    // over it (it takes an open WebSocket as its channel).
    ws = new WebSocket(wsURL(v), ["binary"]);
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      ws.send(v.ticket);
      screen.hidden = false;
      rfb = new RFB(screen, ws, {shared: true});
      rfb.scaleViewport = true; // the whole remote screen in the box
      rfb.addEventListener("connect", function () {
        say("Connected to " + v.workspace_id + " (" + v.protocol + ") through gateway " + v.gateway + ".");
        screen.dataset.connected = "1";
        refresh();
      });
      rfb.addEventListener("disconnect", function (ev) {
        screen.dataset.connected = "";
        say("Disconnected" + (ev.detail && !ev.detail.clean ? " (the connection was lost)" : "") + ".");
        refresh();
      });
      rfb.addEventListener("desktopname", function (ev) { screen.title = ev.detail.name; });
    };
    ws.onclose = function (ev) {
      if (!rfb) say("Disconnected" + (ev.reason ? ": " + ev.reason : "") + ".");
    };
  }

  function openTerminal(v) {
    ws = new WebSocket(wsURL(v));
    ws.binaryType = "arraybuffer";
    const dec = new TextDecoder();
    ws.onopen = function () {
      ws.send(v.ticket);
      say("Connected to " + v.workspace_id + " (" + v.protocol + ") through gateway " + v.gateway + ".");
      term.hidden = false; send.hidden = false; line.focus();
      refresh();
    };
    ws.onmessage = function (ev) {
      term.textContent += typeof ev.data === "string" ? ev.data : dec.decode(ev.data, {stream: true});
      term.scrollTop = term.scrollHeight;
    };
    ws.onclose = function (ev) { say("Disconnected" + (ev.reason ? ": " + ev.reason : "") + "."); send.hidden = true; refresh(); };
  }

  send.addEventListener("submit", function (e) {
    e.preventDefault();
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(new TextEncoder().encode(line.value + "\n"));
    line.value = "";
  });
  if (btn) btn.addEventListener("click", function () { say("Requesting your desktop…"); request(); });
  // A session's page (/portal/sessions/{id}) opens the session at once.
  if (btn && status.dataset.session) { say("Opening your session…"); request(); }
  setInterval(refresh, 2000);
})();
