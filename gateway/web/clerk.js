// Clerk console: state switch, offers with a countdown, the call with the citizen's video, document
// requests and review (zoom, rotate, accept/reject), chat, hang-up and wrap-up.
"use strict";
const C = { call: null, offer: null, stream: null, token: null, docs: [], current: null, zoom: 1, angle: 0 };
const OUTCOMES = { completed: "已办结 Completed", accepted: "已受理 Accepted", missing_documents: "材料不全 Missing documents", needs_visit: "需到现场 Needs a visit", referred: "转办 Referred", consultation: "咨询 Consultation", not_eligible: "不予受理 Not eligible", not_recorded: "未记录 Not recorded" };
const RATINGS = { very_satisfied: "非常满意", satisfied: "满意", acceptable: "基本满意", dissatisfied: "不满意", very_dissatisfied: "非常不满意" };
const STATES = { offline: "离线 Offline", available: "空闲 Available", offered: "来电 Offered", in_call: "通话中 In call", wrap_up: "整理 Wrap-up", away: "暂离 Away" };
const AWAY = { signed_in: "刚登录 just signed in", break: "休息 break", meal: "用餐 meal", meeting: "会议 meeting", training: "培训 training", paperwork: "后台办件 paperwork", missed_offers: "未接来电 missed offers", supervisor: "督导调整 set by a supervisor", disconnected: "网络中断 connection lost", assisting: "三方通话中 in a three-way call" };
const PRIORITY = { normal: "普通", elderly: "老年人/残疾人优先", appointment: "预约" };

// Buttons follow the state: no Away during a call, no Available while already available.
function applyState(state) {
  C.state = state;
  // A third party changes its state by leaving the call.
  XW.el("go-available").disabled = !C.session || C.guest || state === "available" || state === "offered" || state === "in_call";
  XW.el("go-away").disabled = !C.session || C.guest || state === "offered" || state === "in_call";
}

// An offer rings (a short tone) and, when the browser allows, shows a notification.
function ring(m) {
  try {
    const ctx = C.audio || (C.audio = new AudioContext());
    for (const [at, hz] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = hz; g.gain.value = 0.15;
      o.connect(g).connect(ctx.destination);
      o.start(ctx.currentTime + at); o.stop(ctx.currentTime + at + 0.2);
    }
  } catch (_) {}
  if (window.Notification && Notification.permission === "granted") {
    C.lastNotification = new Notification("来电 · Incoming citizen", { body: `${m.service_name} · ${m.booth_region_name}` });
  }
}

// The wrap-up draft goes to the server as it is typed (debounced), and at once before the state
// changes: nothing entered is lost.
function sendDraft(now) {
  clearTimeout(C.draftTimer);
  const send = () => {
    if (C.state !== "wrap_up" || !C.session) return;
    const outcome = XW.el("outcome").value || undefined;
    C.session.send({ type: "wrap_up_draft", outcome, note: XW.el("note").value });
  };
  if (now === true) send(); else C.draftTimer = setTimeout(send, 400);
}

function onMessage(m) {
  switch (m.type) {
    case "clerk_state":
      XW.el("state").textContent = `${STATES[m.state]}${m.reason ? `（${AWAY[m.reason] || m.reason}）` : ""}`;
      applyState(m.state);
      clearInterval(C.wrapTimer);
      // A third party is away (assisting) while in the call: its call screen stays.
      if ((m.state === "available" || m.state === "away") && !(C.guest && m.reason === "assisting")) {
        XW.show("idle");
        XW.el("outcome").value = ""; XW.el("note").value = ""; XW.el("note-count").textContent = "0 / 500";
      }
      if (m.state === "wrap_up") {
        XW.show("wrapup");
        // The notes taken during the call are the draft's start.
        if (!XW.el("note").value && XW.el("call-notes").value) { XW.el("note").value = XW.el("call-notes").value; sendDraft(); }
        XW.el("call-notes").value = "";
        let left = m.wrap_up_ends_in_secs;
        const show = () => { XW.el("wrapup-countdown").textContent = left == null ? "" : `${XW.fmtSecs(Math.max(left, 0))}后自动结束 · Ends by itself in ${Math.max(left, 0)} s`; };
        show();
        C.wrapTimer = setInterval(() => { if (left != null) left -= 1; show(); }, 1000);
      }
      break;
    case "offer": showOffer(m); ring(m); break;
    case "offer_revoked": clearInterval(C.timer); XW.show("idle"); break;
    case "call_started": startCall(m); break;
    case "sdp": case "ice_candidate": XW.signal(C.call, m); break;
    case "document_ready": docReady(m); break;
    case "party_joined": handStatus(`${m.display_name} 已加入通话 · joined the call`); break;
    case "party_left": XW.removeGuest(); handStatus("第三方已离开 · The third party left"); break;
    case "call_invitation": showInvitation(m); break;
    case "invitation_sent": handStatus(`已邀请 ${m.clerk_name}（${m.clerk}）· Invited ${m.clerk}`); break;
    case "call_joined": joinCall(m); break;
    case "call_transferred": XW.el("call-detail").textContent = `已转接给 ${m.peer.display_name} · Now with ${m.peer.display_name}`; break;
    case "call_ended":
      XW.removeGuest(); clearInterval(C.callTimer); C.context = null; handStatus("");
      if (C.call) { C.call.close(); C.call = null; }
      if (C.guest) { C.guest = false; setGuestMode(false); XW.show("idle"); }
      break;
    case "case_recorded":
      XW.el("case-saved").textContent = `已保存办件 · Case saved: ${OUTCOMES[m.outcome]}（${m.ticket % 4294967296} 号）`;
      loadCases();
      break;
    case "error":
      if (m.in_reply_to === "end_wrap_up" || m.in_reply_to === "wrap_up_draft") XW.el("wrapup-error").textContent = `${m.message_zh} · ${m.message_en}`;
      else if (["invite_to_call", "transfer_call", "requeue_call", "join_call"].includes(m.in_reply_to)) handStatus(`${m.message_zh} · ${m.message_en}`);
      else if (m.in_reply_to === "set_state") XW.el("state").textContent += ` — ${m.message_zh} · ${m.message_en}`;
      break;
  }
}

function showOffer(m) {
  C.offer = m.offer;
  XW.el("offer-service").textContent = m.service_name;
  const prio = PRIORITY[m.priority];
  XW.el("offer-detail").textContent = `${m.booth_region_name} · ${prio} · 已等待 ${XW.fmtSecs(m.waited_secs)}`;
  // Kept for the call screen: the context stays in view while the citizen is on the line.
  C.context = { service: m.service_name, detail: `${m.booth_region_name} · ${prio} · 已等待 ${XW.fmtSecs(m.waited_secs)}` };
  let left = Math.round(m.expires_in_ms / 1000);
  XW.el("offer-countdown").textContent = left;
  clearInterval(C.timer);
  C.timer = setInterval(() => { left -= 1; XW.el("offer-countdown").textContent = Math.max(left, 0); }, 1000);
  XW.show("offer");
}

async function startCall(m) {
  clearInterval(C.timer);
  if (C.call && C.call.call === m.call && !C.guest) return;
  // A third party the call was handed to (transfer_call): its guest connection gives way.
  if (C.call) { C.call.close(); C.call = null; XW.removeGuest(); }
  C.guest = false;
  setGuestMode(false);
  // Without an offer before it, the call was handed to this clerk.
  if (!C.context) C.context = { service: (C.services && C.services[m.service]) || m.service, detail: `${m.peer.display_name} · 转接而来 · Transferred to you` };
  XW.show("call");
  const ctx = C.context || {};
  XW.el("call-service").textContent = ctx.service || m.peer.display_name;
  XW.el("call-detail").textContent = ctx.detail || "";
  const started = Date.now();
  clearInterval(C.callTimer);
  XW.el("call-timer").textContent = XW.fmtSecs(0);
  C.callTimer = setInterval(() => { XW.el("call-timer").textContent = XW.fmtSecs(Math.round((Date.now() - started) / 1000)); }, 1000);
  C.stream = C.stream || await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  XW.el("local").srcObject = C.stream;
  C.call = new XW.Call(C.session, m, C.stream, {
    onRemoteStream: (s) => XW.showRemote("remote", s),
    onChat: (t) => addChat("群众", t),
  });
  window.xwCall = C.call;
  XW.el("thumbs").replaceChildren(); XW.el("viewer").hidden = true; XW.el("chat").replaceChildren();
}

function handStatus(text) { XW.el("hand-status").textContent = text; }

// A third party sees and hears both sides; the hand-on row is the call's clerk's.
function setGuestMode(guest) {
  XW.el("hand-on").hidden = guest;
  // Documents are the call's clerk's to ask for; a third party leaves with its own button.
  XW.el("documents").hidden = guest;
  applyState(C.state);
  XW.el("hangup").textContent = guest ? "退出三方通话 · Leave the call" : "结束通话 · Hang up";
}

function showInvitation(m) {
  C.invitation = m;
  XW.el("invitation-text").textContent = `${m.from_name} 邀请您加入通话（${m.booth_name}）· ${m.from} invites you to a call`;
  XW.el("invitation").hidden = false;
  // An invitation is valid for 60 s.
  clearTimeout(C.invitationTimer);
  C.invitationTimer = setTimeout(() => { XW.el("invitation").hidden = true; }, 60000);
}

// Joined as the third party: the relay offers both other parties' streams; the booth's is the big
// one, the clerk's the small one. A guest reports no media state (the call's parties do).
async function joinCall(m) {
  XW.el("invitation").hidden = true;
  C.guest = true;
  XW.show("call");
  setGuestMode(true);
  XW.el("call-service").textContent = "三方通话 · Three-way call";
  XW.el("call-detail").textContent = `${m.booth_name} · ${m.clerk_name}`;
  const joined = Date.now();
  clearInterval(C.callTimer);
  C.callTimer = setInterval(() => { XW.el("call-timer").textContent = XW.fmtSecs(Math.round((Date.now() - joined) / 1000)); }, 1000);
  C.stream = C.stream || await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  XW.el("local").srcObject = C.stream;
  const started = { call: m.call, ice_servers: m.ice_servers, initiator: false, media: "relay" };
  C.call = new XW.Call(C.session, started, C.stream, {
    onRemoteStream: (s) => XW.showRemote("remote", s, s.id === "booth" ? "main" : "small"),
    onChat: (t) => addChat("群众", t),
  }, { monitor: true });
  window.xwCall = C.call;
}

function addChat(who, t) { const p = document.createElement("p"); p.textContent = `${who}：${t}`; XW.el("chat").appendChild(p); }

async function fetchImage(url) {
  const r = await XW.api(url, C.token);
  if (!r.ok) throw new Error(`${r.status}`);
  return URL.createObjectURL(await r.blob());
}

async function docReady(m) {
  const img = document.createElement("img");
  img.alt = `材料缩略图 ${m.doc_type} · Document thumbnail`;
  img.dataset.document = m.document;
  img.src = await fetchImage(m.thumbnail_url);
  img.tabIndex = 0;
  img.onclick = img.onkeydown = async (e) => {
    if (e.type === "keydown" && e.key !== "Enter") return;
    C.current = m; C.zoom = 1; C.angle = 0; applyView();
    XW.el("full").src = await fetchImage(m.url);
    XW.el("viewer").hidden = false;
  };
  XW.el("thumbs").appendChild(img);
  C.docs.push(m);
  img.click();
}

// Zoom changes the laid-out width, so the frame scrolls over the whole enlarged document and the
// buttons below stay reachable; rotation is a transform.
function applyView() {
  const img = XW.el("full");
  img.style.width = `${Math.round(C.zoom * 100)}%`;
  img.style.transform = `rotate(${C.angle}deg)`;
}

function review(accepted) {
  if (!C.current) return;
  const reason = accepted ? undefined : XW.el("reject-reason").value;
  C.session.send({ type: "review_document", document: C.current.document, accepted, reason });
  XW.el("viewer").hidden = true;
}

async function signIn(id, secret) {
  try {
    const login = await XW.login("clerk", id, secret);
    C.token = login.token;
    XW.el("title").textContent = `坐席工作台 · ${login.display_name}`;
    // Across a server restart the session reconnects by itself; a refused token signs in again
    // with the same account (kept in memory only: a shared PC keeps no secret).
    const relogin = async () => { const again = await XW.login("clerk", id, secret); C.token = again.token; return again.token; };
    C.session = new XW.Session("clerk", C.token, onMessage, (st, detail) => {
      const net = XW.el("net");
      if (st === "signed_out") {
        C.session = null;
        applyState("offline");
        XW.show("signin");
        XW.el("signin-error").textContent = `登录已失效，请重新登录 · Signed out: ${(detail && detail.body && detail.body.message_en) || "sign in again"}`;
      }
      if (!net) return;
      if (st === "reconnecting") net.textContent = "网络重连中，通话保留 15 秒 · Reconnecting; your call is kept for 15 s";
      if (st === "server_shutdown") net.textContent = "服务器重启中，稍后自动重新连接 · The server is restarting; reconnecting shortly";
      if (st === "replaced") net.textContent = "本账号已在另一处登录 · Signed in elsewhere";
      net.hidden = st === "online" || st === "signed_out";
    }, relogin);
    window.xwClerk = C;
    applyState("away");
    XW.show("idle");
    XW.el("recent").hidden = false;
    // Ask once, at sign-in (a user gesture), so that offers can show a notification.
    if (window.Notification && Notification.permission === "default") { C.notificationAsked = true; Notification.requestPermission().catch(() => {}); }
    C.services = Object.fromEntries(((await (await fetch("/api/catalog")).json()).services || []).map((s) => [s.code, s.name]));
    XW.el("requeue-service").replaceChildren(...Object.entries(C.services).map(([code, name]) => new Option(name, code)));
    loadCases();
  } catch (e) {
    XW.el("signin-error").textContent = e.unreachable
      ? "无法连接服务器，请稍后再试 · The server cannot be reached; try again shortly"
      : `${(e.body && e.body.message_zh) || "登录失败"} · ${(e.body && e.body.message_en) || e.message}`;
  }
}

XW.el("signin-form").onsubmit = (e) => { e.preventDefault(); signIn(XW.el("clerk-id").value, XW.el("clerk-secret").value); };
XW.el("go-available").onclick = () => { if (!C.session) return; sendDraft(true); C.session.send({ type: "set_state", state: "available" }); };
XW.el("go-away").onclick = () => { if (!C.session) return; sendDraft(true); C.session.send({ type: "set_state", state: "away", reason: XW.el("away-reason").value }); };
XW.el("accept").onclick = () => C.session.send({ type: "accept_offer", offer: C.offer });
XW.el("decline").onclick = () => C.session.send({ type: "decline_offer", offer: C.offer });
XW.el("request-doc").onclick = () => C.call && C.session.send({ type: "request_document", call: C.call.call, doc_type: XW.el("doc-type").value });
XW.el("zoom-in").onclick = () => { C.zoom *= 1.25; applyView(); };
XW.el("zoom-out").onclick = () => { C.zoom /= 1.25; applyView(); };
XW.el("rotate").onclick = () => { C.angle = (C.angle + 90) % 360; applyView(); };
XW.el("doc-accept").onclick = () => review(true);
XW.el("doc-reject").onclick = () => review(false);
XW.el("chat-send").onclick = () => { const t = XW.el("chat-input").value.trim(); if (t && C.call && C.call.say(t)) { addChat("我", t); XW.el("chat-input").value = ""; } };
XW.el("hangup").onclick = () => {
  if (!C.call) return;
  if (!C.guest) { C.session.send({ type: "hang_up", call: C.call.call }); return; }
  // The third party leaves; the call goes on without it.
  C.session.send({ type: "leave_call", call: C.call.call });
  C.call.close(); C.call = null; C.guest = false; clearInterval(C.callTimer);
  XW.removeGuest(); setGuestMode(false); applyState(C.state); XW.show("idle");
};
XW.el("join").onclick = () => { if (C.invitation) C.session.send({ type: "join_call", call: C.invitation.call }); XW.el("invitation").hidden = true; };
XW.el("ignore-invitation").onclick = () => { XW.el("invitation").hidden = true; };
const handOn = (type, extra) => { if (C.call && !C.guest) C.session.send({ type, call: C.call.call, ...extra }); };
XW.el("invite").onclick = () => { const id = XW.el("hand-clerk").value.trim(); if (id) handOn("invite_to_call", { clerk: id }); };
// A colleague for the item picked under 其他事项 (or a 帮办 helper): the server picks who.
XW.el("invite-service").onclick = () => { const s = XW.el("requeue-service").value; if (s) handOn("invite_to_call", { service: s }); };
XW.el("transfer").onclick = () => { const id = XW.el("hand-clerk").value.trim(); if (id) handOn("transfer_call", { clerk: id }); };
XW.el("requeue").onclick = () => { const s = XW.el("requeue-service").value; if (s) handOn("requeue_call", { service: s }); };
XW.el("note").oninput = () => { XW.el("note-count").textContent = `${[...XW.el("note").value].length} / 500`; sendDraft(); };
XW.el("outcome").onchange = sendDraft;
XW.el("mute").onclick = (e) => {
  const muted = e.target.getAttribute("aria-pressed") !== "true";
  for (const t of (C.stream ? C.stream.getAudioTracks() : [])) t.enabled = !muted;
  e.target.setAttribute("aria-pressed", muted);
  e.target.textContent = muted ? "取消静音 · Unmute" : "静音 · Mute";
};
XW.el("wrapup-form").onsubmit = (e) => {
  e.preventDefault();
  const outcome = XW.el("outcome").value;
  if (!outcome) { XW.el("wrapup-error").textContent = "请选择办理结果 · Choose an outcome"; XW.el("outcome").focus(); return; }
  XW.el("wrapup-error").textContent = "";
  C.session.send({ type: "end_wrap_up", outcome, note: XW.el("note").value });
  XW.el("outcome").value = ""; XW.el("note").value = ""; XW.el("note-count").textContent = "0 / 500";
};

// The clerk's own latest case records (GET /api/cases), with the citizen's rating once given.
async function loadCases() {
  const r = await XW.api("/api/cases?limit=100", C.token);
  if (!r.ok) return;
  const body = await r.json();
  // The clerk's own day: cases recorded since midnight, the average time from hang-up to recorded
  // (wrap-up), and the ratings received.
  const midnight = new Date(); midnight.setHours(0, 0, 0, 0);
  const today = body.cases.filter((c) => c.recorded_unix * 1000 >= midnight.getTime());
  const rated = today.filter((c) => c.rating);
  const wrap = today.length ? Math.round(today.reduce((a, c) => a + (c.recorded_unix - c.ended_unix), 0) / today.length) : 0;
  XW.el("day").textContent = `今日办件 ${today.length} 件 · 平均整理 ${XW.fmtSecs(wrap)} · 收到评价 ${rated.length} 条 · Today: ${today.length} cases, average wrap-up ${wrap} s, ${rated.length} ratings`;
  const rows = body.cases.slice(0, 10).map((c) => {
    const tr = document.createElement("tr");
    const cells = [new Date(c.recorded_unix * 1000).toLocaleTimeString("zh-CN"), (C.services && C.services[c.service]) || c.service, OUTCOMES[c.outcome], c.rating ? RATINGS[c.rating] : "—", c.note || ""];
    for (const text of cells) { const td = document.createElement("td"); td.textContent = text; tr.append(td); }
    tr.append(XW.recordingButton(c.call, () => C.token));
    return tr;
  });
  XW.el("cases").replaceChildren(...rows);
}
XW.el("clerk-id").value = XW.params.get("clerk") || "";
XW.el("clerk-secret").value = XW.params.get("secret") || "";
applyState("offline");
XW.show("signin");
if (XW.params.get("clerk") && XW.params.get("secret")) signIn(XW.params.get("clerk"), XW.params.get("secret"));
