// Xiaowu pages: shared client code — login, the role's WebSocket (hello, ping, reconnect) and the
// WebRTC side of a call (trickle ICE through the server's relay, candidates buffered until the
// remote description is set, a `chat` data channel). No framework, no build step.
"use strict";

const XW = {};
// The protocol version this page speaks: the server that serves the file writes its own here.
XW.PROTOCOL_VERSION = /*PROTOCOL_VERSION*/1;

XW.params = new URLSearchParams(location.search);

// Signs in. A refusal throws with `rejected` set and the server's bilingual `body`; a server that
// cannot be reached throws with `unreachable` set (try again shortly).
XW.login = async function (role, id, secret, deviceToken) {
  const body = deviceToken ? { role, id, device_token: deviceToken } : { role, id, secret };
  return XW.post("/api/login", body);
};

// Sets up this kiosk for a booth: its secret for a device token of the kiosk's own.
XW.setUpDevice = (booth, secret) => XW.post("/api/devices", { booth, secret });

// A JSON POST that signs in or sets up, with the login's refusal shapes.
XW.post = async function (path, payload) {
  let r;
  try {
    r = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
    });
  } catch (e) {
    throw Object.assign(new Error("server not reachable"), { unreachable: true });
  }
  const body = await r.json().catch(() => ({}));
  if (r.status >= 500 || !body.code && !r.ok) throw Object.assign(new Error(body.message_en || "server busy"), { unreachable: true, body });
  if (!r.ok) throw Object.assign(new Error(body.message_en || "login failed"), { rejected: true, body });
  return body;
};

// The device's account for `role`: from the URL (`?<idParam>=…&secret=…`, taken out of the
// address bar at once; the secret is never stored: the page exchanges it for a device token and
// keeps that), else the device token kept before (or, from an older version, a kept secret, which
// is exchanged in turn); null when the device was never set up. Pages never fall back to a
// built-in account.
XW.credentials = function (role, idParam) {
  const key = `xiaowu.${role}`;
  const id = XW.params.get(idParam), secret = XW.params.get("secret");
  if (id && secret) {
    const url = new URL(location.href);
    url.searchParams.delete("secret");
    history.replaceState(null, "", url);
    return { id, secret };
  }
  try {
    const kept = JSON.parse(localStorage.getItem(key) || "null");
    if (kept && kept.id && (kept.device_token || kept.secret)) return kept;
  } catch (_) {}
  return null;
};
XW.forget = (role) => { try { localStorage.removeItem(`xiaowu.${role}`); } catch (_) {} };

// A WebSocket session that says hello, pings, and reconnects (the booth keeps its place for 30 s,
// a clerk's call 15 s) — also across a server restart, for as long as it takes. With `relogin`
// (an async function giving a fresh token) a refused token signs in again by itself; if that is
// refused too, the status is "signed_out" (with the error) and the session stops.
XW.Session = class {
  constructor(role, token, onMessage, onStatus, relogin) {
    this.role = role; this.token = token; this.onMessage = onMessage; this.onStatus = onStatus || (() => {});
    this.relogin = relogin; this.closed = false; this.retry = 0; this.queue = [];
    this.open();
  }
  async signInAgain() {
    if (!this.relogin) { this.closed = true; this.onStatus("authentication_failed"); return; }
    try {
      this.token = await this.relogin();
      this.open();
    } catch (e) {
      if (e.rejected) { this.closed = true; this.onStatus("signed_out", e); return; }
      this.onStatus("reconnecting");
      setTimeout(() => this.signInAgain(), 2000);
    }
  }
  open() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/${this.role}`);
    this.ws = ws;
    // The handler is attached before anything is awaited, so no early message is lost.
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "welcome") {
        this.retry = 0;
        this.onStatus("online");
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.send({ type: "ping", seq: Date.now() }), msg.heartbeat_interval_ms);
        for (const m of this.queue.splice(0)) this.send(m);
      }
      if (msg.type === "server_shutdown") this.onStatus("server_shutdown", msg);
      if (msg.type !== "pong") this.onMessage(msg);
    };
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", protocol_version: XW.PROTOCOL_VERSION, token: this.token }));
    ws.onclose = (ev) => {
      clearInterval(this.pinger);
      if (this.closed) return;
      // The server's close reason says whether to come back: not when another window or device
      // of the same account took over; when the token was refused, sign in again first.
      if (ev.reason === "replaced") {
        this.closed = true;
        this.onStatus(ev.reason);
        return;
      }
      if (ev.reason === "authentication_failed") { this.signInAgain(); return; }
      this.onStatus("reconnecting");
      this.retry = Math.min(this.retry + 1, 6);
      setTimeout(() => this.open(), 300 * this.retry);
    };
  }
  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    else this.queue.push(msg);
  }
  close() { this.closed = true; if (this.ws) this.ws.close(); }
};

// One side of a call. Peer to peer, `initiator` (the clerk) offers and opens the chat channel.
// Through the server's media relay (`started.media === "relay"`) the relay offers to both sides
// (again when someone joins or leaves) and opens the chat channel; an offer marked `fresh` means
// the relay lost this side's connection: a new one answers it.
XW.Call = class {
  // `options.monitor`: a supervisor watching (no local media, no media_state reports).
  constructor(session, started, localStream, handlers, options = {}) {
    this.monitor = !!options.monitor;
    this.session = session; this.call = started.call; this.initiator = started.initiator;
    this.started = started; this.localStream = localStream;
    this.h = handlers; this.chain = Promise.resolve();
    this.build();
    // Signaling that came while the page was still opening the camera (the relay offers at once).
    for (const m of XW.early.splice(0)) if (m.call === this.call) this.onSignal(m);
  }
  build() {
    const session = this.session, started = this.started;
    this.pending = []; this.remoteSet = false;
    const pc = new RTCPeerConnection({ iceServers: started.ice_servers });
    const localStream = this.localStream;
    this.pc = pc;
    if (localStream) for (const t of localStream.getTracks()) pc.addTrack(t, localStream);
    pc.onicecandidate = (e) => {
      const c = e.candidate;
      session.send({ type: "ice_candidate", call: this.call, candidate: c ? c.candidate : "",
        sdp_mid: c ? c.sdpMid : undefined, sdp_mline_index: c ? c.sdpMLineIndex : undefined });
    };
    // Each remote party's video and audio arrive in one stream (through the relay, named after
    // the party: "booth", "clerk").
    pc.ontrack = (e) => this.h.onRemoteStream(e.streams[0], e.track);
    pc.onconnectionstatechange = () => {
      if (this.monitor) return;
      if (pc.connectionState === "connected" && !this.reported) {
        this.reported = true;
        session.send({ type: "media_state", call: this.call, state: "connected" });
      }
      if (pc.connectionState === "failed") session.send({ type: "media_state", call: this.call, state: "failed" });
    };
    pc.ondatachannel = (e) => this.useChannel(e.channel);
    if (this.initiator) {
      this.useChannel(pc.createDataChannel("chat"));
      this.offer();
    }
  }
  useChannel(ch) { this.chat = ch; ch.onmessage = (e) => this.h.onChat(String(e.data)); }
  async offer(iceRestart) {
    const offer = await this.pc.createOffer({ iceRestart: !!iceRestart });
    await this.pc.setLocalDescription(offer);
    this.session.send({ type: "sdp", call: this.call, kind: "offer", sdp: offer.sdp });
  }
  // One message at a time, in order: an offer is answered before the next one is looked at.
  onSignal(msg) {
    this.chain = this.chain.then(() => this.handle(msg)).catch((e) => console.warn("signaling", e));
    return this.chain;
  }
  async handle(msg) {
    if (msg.call !== this.call) return;
    if (msg.type === "sdp") {
      if (msg.fresh && this.remoteSet) {
        try { this.pc.close(); } catch (_) {}
        this.reported = true; // the call's media was reported up before
        this.build();
      }
      await this.pc.setRemoteDescription({ type: msg.kind, sdp: msg.sdp });
      this.remoteSet = true;
      for (const c of this.pending.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
      if (msg.kind === "offer") {
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        this.session.send({ type: "sdp", call: this.call, kind: "answer", sdp: answer.sdp });
      }
    } else if (msg.type === "ice_candidate" && msg.candidate) {
      const c = { candidate: msg.candidate, sdpMid: msg.sdp_mid, sdpMLineIndex: msg.sdp_mline_index };
      if (this.remoteSet) await this.pc.addIceCandidate(c).catch(() => {});
      else this.pending.push(c);
    }
  }
  say(text) { if (this.chat && this.chat.readyState === "open") { this.chat.send(text); return true; } return false; }
  async framesDecoded() {
    let n = 0;
    (await this.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
    return n;
  }
  close() { try { this.pc.close(); } catch (_) {} }
};

// The other party's stream goes to the main video; a third party's (stream "guest", through the
// relay) to a small video of its own next to it, removed again when it leaves (`party_left`).
// `where` ("main" / "small") overrides the choice (a third party shows the booth big).
XW.showRemote = (mainId, st, where) => {
  if ((where || (st.id === "guest" ? "small" : "main")) === "main") {
    const v = XW.el(mainId);
    if (v.srcObject !== st) v.srcObject = st;
    return;
  }
  let v = XW.el("guest-video");
  if (!v) {
    v = document.createElement("video");
    Object.assign(v, { id: "guest-video", autoplay: true, playsInline: true, className: "guest" });
    v.setAttribute("aria-label", "第三方工作人员 · Third party");
    XW.el(mainId).after(v);
  }
  if (v.srcObject !== st) v.srcObject = st;
};
XW.removeGuest = () => { const v = XW.el("guest-video"); if (v) v.remove(); };

// A call's recording (GET /api/calls/{call}/recording: the call's clerk, or a supervisor in
// scope; every view is logged), played in a panel of its own. A browser plays only the first
// audio track of a file, so each recorded party is fetched as its own view (`?party=`) and shown
// in a video of its own: the booth's, with the controls, leads; the others follow its play,
// pause, seek and speed, and are pulled back when they drift. A button to open it for a case row.
XW.PARTY_NAMES = { booth: "群众 · Citizen", clerk: "工作人员 · Clerk", guest: "第三方 · Third party" };
XW.playRecording = async (call, token) => {
  let panel = XW.el("player");
  if (!panel) {
    panel = document.createElement("section");
    panel.id = "player"; panel.className = "monitor";
    panel.setAttribute("aria-label", "通话录像 · Call recording");
    panel.replaceChildren(
      XW.h("p", { id: "player-status", role: "status" }),
      XW.h("div", { id: "player-videos", class: "player-videos" }),
      XW.h("button", { id: "player-close" }, "关闭 · Close"));
    document.body.append(panel);
    XW.el("player-close").onclick = () => {
      for (const v of panel.querySelectorAll("video")) { v.pause(); URL.revokeObjectURL(v.src); }
      panel.remove();
    };
  }
  const status = XW.el("player-status"), box = XW.el("player-videos");
  for (const v of box.querySelectorAll("video")) { v.pause(); URL.revokeObjectURL(v.src); }
  box.replaceChildren();
  status.textContent = "正在载入录像 · Loading the recording";
  const view = (party) => XW.api(`/api/calls/${call}/recording?party=${party}`, token);
  // A call just ended is listed before its recording is finished and indexed (it is sealed as the
  // room closes): wait for it a little before saying there is none.
  let first = await view("booth");
  for (let tries = 0; first.status === 404 && tries < 10; tries++) {
    status.textContent = "录像处理中，请稍候 · Preparing the recording";
    await new Promise((res) => setTimeout(res, 1000));
    first = await view("booth");
  }
  if (!first.ok) {
    status.textContent = first.status === 404 ? "这次通话没有录像 · No recording of this call" : "无权查看 · Not allowed";
    return;
  }
  const parties = (first.headers.get("x-recording-parties") || "booth").split(",").filter((p) => p);
  const blobs = [["booth", await first.blob()]];
  for (const party of parties.filter((p) => p !== "booth")) {
    const r = await view(party);
    if (r.ok) blobs.push([party, await r.blob()]);
  }
  const videos = blobs.map(([party, blob], i) => {
    const figure = document.createElement("figure");
    const v = document.createElement("video");
    v.id = i === 0 ? "player-video" : `player-video-${party}`;
    v.dataset.party = party; v.width = 320; v.controls = i === 0;
    v.setAttribute("aria-label", `通话录像 · Call recording: ${XW.PARTY_NAMES[party] || party}`);
    v.src = URL.createObjectURL(blob);
    const caption = document.createElement("figcaption");
    caption.textContent = XW.PARTY_NAMES[party] || party;
    figure.append(v, caption); box.append(figure);
    return v;
  });
  const [lead, ...rest] = videos;
  const align = (f) => { if (Math.abs(f.currentTime - lead.currentTime) > 0.3) f.currentTime = lead.currentTime; };
  for (const f of rest) {
    lead.addEventListener("play", () => { align(f); f.play().catch(() => {}); });
    lead.addEventListener("pause", () => f.pause());
    lead.addEventListener("seeked", () => { f.currentTime = lead.currentTime; });
    lead.addEventListener("ratechange", () => { f.playbackRate = lead.playbackRate; });
    lead.addEventListener("volumechange", () => { f.muted = lead.muted; f.volume = lead.volume; });
    lead.addEventListener("timeupdate", () => align(f));
  }
  status.textContent = `通话 ${call} · Call ${call}`;
};
XW.recordingButton = (call, token) => {
  const b = document.createElement("button");
  b.textContent = "播放 · Play"; b.dataset.recording = call;
  b.setAttribute("aria-label", `播放 · Play ${call}`);
  b.onclick = () => XW.playRecording(call, token());
  const td = document.createElement("td"); td.append(b);
  return td;
};

// `sdp` / `ice_candidate` for a call whose XW.Call does not exist yet (kept until it does).
XW.early = [];
XW.signal = (call, msg) => {
  if (call && call.call === msg.call) call.onSignal(msg);
  else if (XW.early.length < 200) XW.early.push(msg);
};

XW.el = (id) => document.getElementById(id);
// An authenticated request to this server's API: the one place a page sends its token.
XW.api = (path, token, init = {}) =>
  fetch(path, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });
// An element with attributes and children; strings become text (never parsed as HTML: no text
// from the server goes through innerHTML, and the pages' Content-Security-Policy allows no
// inline script or style).
XW.h = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return e;
};
// Two lines: the first as it is, the second small (Chinese and English).
XW.twoLines = (first, second) => XW.h("span", {}, first, XW.h("br"), XW.h("small", {}, second));
// A table row of text cells.
XW.row = (cells, attrs = {}) => XW.h("tr", attrs, ...cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : XW.h("td", {}, c))));
XW.show = (id) => {
  for (const s of document.querySelectorAll("[data-screen]")) s.hidden = s.id !== id;
};
XW.fmtSecs = (s) => (s >= 60 ? `${Math.floor(s / 60)}分${s % 60}秒` : `${s}秒`);
window.XW = XW;
