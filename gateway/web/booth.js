// Booth kiosk: pick a service (one tap), follow the queue (spoken prompts), take the call, send
// document photos, rate the service. The kiosk is set up once: its booth id and secret come from
// the URL the installer opens (?booth=…&secret=…) and are kept on the device; a kiosk never set up
// shows the set-up screen, never a built-in account.
"use strict";
const S = { ticket: null, call: null, stream: null, docType: null, token: null, english: false, catalog: null };
// Icons are drawn as coloured badges with one character: no emoji font is needed on the kiosk.
const ICONS = { "教育": ["教", "#1565c0"], "市场主体": ["商", "#6a1b9a"], "民生": ["民", "#2e7d32"], "社保": ["保", "#00838f"], "不动产": ["房", "#8d6e63"], "公积金": ["金", "#ef6c00"], "医保": ["医", "#c62828"], "户籍": ["户", "#283593"], "民政": ["政", "#558b2f"], "交通": ["车", "#37474f"], "税务": ["税", "#4e342e"], "农业": ["农", "#33691e"], "住建": ["建", "#5d4037"] };
const icon = (cat) => {
  const [ch, color] = ICONS[cat] || ["办", "#455a64"];
  const badge = XW.h("span", { class: "icon", "aria-hidden": "true" }, ch);
  badge.style.background = color;
  return badge;
};
// Each rating with a colour from green to red and a face drawn in CSS (no emoji font needed).
const RATINGS = [["very_satisfied", "非常满意", "Very satisfied", "#1b6e20"], ["satisfied", "满意", "Satisfied", "#4a7c10"], ["acceptable", "基本满意", "Acceptable", "#8a6d00"], ["dissatisfied", "不满意", "Dissatisfied", "#b35c00"], ["very_dissatisfied", "非常不满意", "Very dissatisfied", "#b3261e"]];
// Quick replies: the kiosk has no keyboard, so the citizen answers with one tap.
const QUICK_REPLIES = [["好的", "OK"], ["请稍等", "One moment, please"], ["听不清，请再说一遍", "Sorry, please say it again"], ["我明白了", "I understand"], ["需要帮助", "I need help"]];
// The service a 帮办 helper takes (请工作人员帮我).
const ASSIST = "assist";
// Seconds a finished screen stays with nobody touching it before the kiosk goes back to the start
// (`?idle=` for tests).
const IDLE_SECS = Number(XW.params.get("idle")) || 30;
// Seconds a rating choice may still be changed before it is sent by itself.
const RATING_SETTLE_SECS = 5;
// Asked with 不满意 / 非常不满意: why (one tap, optional).
const RATING_REASONS = [["long_wait", "等待时间太长", "Waited too long"], ["not_resolved", "问题没有解决", "Not resolved"], ["staff_attitude", "工作人员态度", "Staff attitude"], ["audio_video", "声音或画面不清楚", "Poor sound or picture"], ["other", "其他原因", "Other"]];
const UNHAPPY = ["dissatisfied", "very_dissatisfied"];

function speak(text) {
  try { const u = new SpeechSynthesisUtterance(text); u.lang = "zh-CN"; speechSynthesis.speak(u); } catch (_) {}
}

// The most used items, shown first on the start screen (then every category).
const MOST_USED = ["teacher-cert", "social-card", "pension-check", "medical-filing", "birth-bundle", "housing-fund"];

function tile(s) {
  const b = document.createElement("button");
  b.className = "tile";
  b.dataset.service = s.code;
  b.replaceChildren(icon(s.category), XW.twoLines(S.english ? s.name_en : s.name, S.english ? s.name : s.name_en));
  b.onclick = () => showMaterials(s);
  return b;
}

// One screen at 1080×1920, in large text too: the most used items, then the categories; a
// category opens its items (with a way back).
function renderServices() {
  const services = S.catalog.services.filter((s) => s.code !== ASSIST);
  XW.el("assist").hidden = !S.catalog.services.some((s) => s.code === ASSIST);
  const groups = {};
  for (const s of services) (groups[s.category] = groups[s.category] || []).push(s);
  const root = XW.el("groups");
  root.replaceChildren();
  const section = (title, children) => {
    const g = document.createElement("div");
    g.className = "group";
    const h = document.createElement("h2"); h.textContent = title;
    const tiles = document.createElement("div"); tiles.className = "tiles";
    tiles.append(...children);
    g.append(h, tiles);
    return g;
  };
  const used = MOST_USED.map((c) => services.find((s) => s.code === c)).filter(Boolean);
  root.append(section("常办事项 · Most used", used.map(tile)));
  const cats = Object.entries(groups).map(([cat, list]) => {
    const b = document.createElement("button");
    b.className = "tile category";
    b.dataset.category = cat;
    b.replaceChildren(icon(cat), XW.twoLines(cat, `${list.length} 项 · ${list.length} item${list.length > 1 ? "s" : ""}`));
    b.onclick = () => openCategory(cat, list);
    return b;
  });
  root.append(section("全部分类 · All categories", cats));
}

function openCategory(cat, list) {
  XW.el("category-title").textContent = cat;
  XW.el("category-items").replaceChildren(...list.map(tile));
  XW.show("category");
}

// Before queuing: the documents the item needs, each with a picture of its kind.
function showMaterials(service) {
  if (!service.materials || service.materials.length === 0) { request(service); return; }
  S.pending = service;
  XW.el("materials-service").textContent = `${service.name} · ${service.name_en}`;
  XW.el("materials-list").replaceChildren(...service.materials.map((m) => {
    const li = document.createElement("li");
    const kind = m.doc_type.startsWith("id_") ? "card" : m.doc_type.startsWith("hukou") ? "booklet" : m.doc_type === "diploma" ? "certificate" : "sheet";
    li.replaceChildren(XW.h("span", { class: `doc doc-${kind}`, "aria-hidden": "true" }), XW.twoLines(m.name_zh, m.name_en));
    return li;
  }));
  XW.show("materials");
  XW.el("materials-go").focus();
  speak(`办理${service.name}，请准备：${service.materials.map((m) => m.name_zh).join("、")}`);
}

function request(service) {
  S.service = service;
  XW.el("q-service").textContent = `${service.name} · ${service.name_en}`;
  S.session.send({ type: "request_service", service: service.code, priority: XW.el("priority").checked ? "elderly" : "normal" });
}

// The waiting screen's clock: time waited so far, and the estimate counting down between the
// server's updates.
function tickQueue() {
  if (!S.queuedAt) return;
  const waited = Math.round((Date.now() - S.queuedAt) / 1000);
  XW.el("q-elapsed").textContent = `已等待 ${XW.fmtSecs(waited)} · Waited ${waited} s`;
  if (S.estimateAt != null) {
    const left = Math.max(0, S.estimate - Math.round((Date.now() - S.estimateAt) / 1000));
    XW.el("q-estimate").textContent = `预计还需 ${XW.fmtSecs(left)} · About ${left} s more`;
  }
}
setInterval(tickQueue, 1000);

// What a status's `notice` tells the citizen, before the queue position.
const NOTICES = {
  resumed: "网络已恢复，您的排队位置已保留。",
  clerk_lost_requeued: "工作人员连接中断，您已回到队首。",
  media_failed_requeued: "视频没能接通，您已回到队首。",
  transferred: "工作人员已为您转到其他事项办理，您排在队首。",
};

function onStatus(m) {
  if (S.ticket !== m.ticket) S.queuedAt = Date.now();
  S.ticket = m.ticket;
  XW.el("q-ticket").textContent = m.number;
  S.number = m.number;
  if (m.estimated_wait_secs != null) { S.estimate = m.estimated_wait_secs; S.estimateAt = Date.now(); } else { S.estimateAt = null; XW.el("q-estimate").textContent = ""; }
  tickQueue();
  // The clerk may have moved the ticket to another item (requeue_call): show that item's name.
  const moved = S.catalog && S.catalog.services.find((s) => s.code === m.service);
  if (moved && (!S.service || S.service.code !== m.service)) S.service = moved;
  const notice = NOTICES[m.notice] || "";
  if (m.notice === "transferred") speak(`工作人员已为您转到${S.service ? S.service.name : "其他事项"}，您排在第一位`);
  let text;
  if (m.state === "waiting" && m.estimated_wait_secs == null) {
    // No clerk for this service is taking calls right now (all are on a break, in a meeting…).
    text = `${notice}您前面还有 ${m.position - 1} 位。工作人员暂时都不在座位上，回来后会马上为您办理，您的排队位置一直保留。 · ${m.position - 1} ahead of you. Every clerk is away for a moment; you keep your place.`;
  } else if (m.state === "waiting") {
    const est = `约 ${XW.fmtSecs(m.estimated_wait_secs)}`;
    text = `${notice}您前面还有 ${m.position - 1} 位，预计等待 ${est}。 · ${m.position - 1} ahead of you.`;
    if (S.lastSpoken !== m.position) { S.lastSpoken = m.position; speak(`${m.number}号，您前面还有${m.position - 1}位`); }
  } else {
    text = "正在为您接通工作人员… · Connecting you to a clerk…";
  }
  XW.el("q-status").textContent = text;
  // Once connected the call screen owns the display (the camera may still be opening).
  if (m.state !== "connected" && !S.inCall) XW.show("queue");
}

async function startCall(m) {
  if (S.call && S.call.call === m.call) return; // resumed after a reconnect
  S.inCall = true;
  XW.show("call");
  XW.el("call-clerk").textContent = `${m.peer.display_name} · ${S.service ? S.service.name : ""}`;
  const started = Date.now();
  clearInterval(S.callTimer);
  S.callTimer = setInterval(() => { XW.el("call-timer").textContent = XW.fmtSecs(Math.round((Date.now() - started) / 1000)); }, 1000);
  try {
    S.stream = S.stream || await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  } catch (e) {
    // Told to the server (an alert for the supervisors) and to the citizen; the call goes on
    // without the booth's own picture and sound, so the clerk can still explain what to do.
    reportDevices(deviceWord(e), deviceWord(e));
    S.stream = null;
  }
  XW.el("local").srcObject = S.stream;
  XW.el("recording-notice").hidden = !m.recording;
  S.call = new XW.Call(S.session, m, S.stream, {
    onRemoteStream: (st) => XW.showRemote("remote", st),
    onChat: (t) => addChat("工作人员", t),
  });
  window.xwCall = S.call;
  speak(m.recording ? "已为您接通工作人员。本次服务全程录音录像" : "已为您接通工作人员");
}

function addChat(who, text) {
  const p = document.createElement("p");
  p.textContent = `${who}：${text}`;
  XW.el("chat").appendChild(p);
}

function docRequested(m) {
  S.docType = m.doc_type;
  const box = XW.el("doc-request");
  box.hidden = false;
  box.textContent = `工作人员请您拍摄：${m.name_zh} · Please photograph: ${m.name_en}`;
  speak(`请拍摄${m.name_zh}`);
  XW.el("capture").hidden = false;
  XW.el("preview").srcObject = S.stream;
}

function snapshot() {
  const v = XW.el("preview"), c = XW.el("shot");
  c.width = v.videoWidth || 640; c.height = v.videoHeight || 480;
  c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
  XW.el("shot-img").src = c.toDataURL("image/jpeg", 0.92);
  XW.el("shot-img").hidden = false; XW.el("preview").hidden = true;
  XW.el("retake").hidden = false; XW.el("send").hidden = false; XW.el("snap").hidden = true;
}

function retake() {
  XW.el("shot-img").hidden = true; XW.el("preview").hidden = false;
  XW.el("retake").hidden = true; XW.el("send").hidden = true; XW.el("snap").hidden = false;
}

function sendPhoto() {
  XW.el("shot").toBlob((blob) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/calls/${S.call.call}/documents?doc_type=${S.docType || "other"}`);
    xhr.setRequestHeader("Authorization", `Bearer ${S.token}`);
    xhr.setRequestHeader("Content-Type", "image/jpeg");
    const bar = XW.el("upload");
    bar.hidden = false; bar.value = 0;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText || "{}");
      XW.el("upload-status").textContent = xhr.status === 200
        ? "已发送，请等待工作人员查看 · Sent; the clerk is checking it"
        : `${body.message_zh || "发送失败"} · ${body.message_en || "Upload failed"}`;
      if (xhr.status === 200) retake();
    };
    xhr.send(blob);
  }, "image/jpeg", 0.92);
}

function reviewed(m) {
  const box = XW.el("doc-request");
  box.hidden = false;
  box.textContent = m.accepted ? "材料已确认，谢谢 · The document was accepted"
    : `请重新拍摄：${m.reason || ""} · Please take it again`;
  if (m.accepted) XW.el("capture").hidden = true;
  speak(m.accepted ? "材料已确认" : "请重新拍摄");
}

function showRating(ticket) {
  XW.show("rate");
  // The receipt: the number, and the case (办件) number with its QR code to look it up later.
  XW.el("receipt").textContent = S.caseId
    ? `您的号码 ${S.number || ""} 已办理完毕，办件编号 ${S.caseId} · Number ${S.number || ""} served; case ${S.caseId}`
    : `您的号码 ${S.number || ""} 已办理完毕 · Number ${S.number || ""} served`;
  const qr = XW.el("receipt-qr");
  qr.hidden = !S.caseId;
  if (S.caseId) qr.src = `/api/qr?text=${encodeURIComponent(`xiaowu-case:${S.caseId}`)}`;
  const root = XW.el("ratings");
  root.replaceChildren();
  RATINGS.forEach(([code, zh, en, color], i) => {
    const b = document.createElement("button");
    b.className = "rating";
    b.style.background = color;
    b.replaceChildren(XW.h("span", { class: `face face-${i}`, "aria-hidden": "true" }), XW.twoLines(zh, en));
    b.dataset.rating = code;
    // A choice can be changed for a few seconds (a wrong tap is easy on a touch screen); it is
    // sent when the citizen confirms it, or by itself after RATING_SETTLE_SECS, or when the
    // screen closes — never more than once.
    b.onclick = () => {
      if (S.ratingSent) return;
      S.rated = [zh, en, code];
      for (const other of root.querySelectorAll("button")) { delete other.dataset.chosen; other.setAttribute("aria-pressed", "false"); }
      b.dataset.chosen = "1";
      b.setAttribute("aria-pressed", "true");
      XW.el("rate-done").textContent = `您选择了“${zh}”，${RATING_SETTLE_SECS} 秒内可以改选 · You chose "${en}"; you can change it for ${RATING_SETTLE_SECS} s`;
      XW.el("rate-confirm").hidden = false;
      // Not satisfied: ask why (optional); the choice then waits for a reason or a confirmation.
      const unhappy = UNHAPPY.includes(code);
      XW.el("rate-reasons").hidden = !unhappy;
      if (!unhappy) S.reason = null;
      if (unhappy) speak("请问是什么原因？");
      clearTimeout(S.ratingTimer);
      S.ratingTimer = setTimeout(sendRating, (unhappy ? 4 : 1) * RATING_SETTLE_SECS * 1000);
    };
    b.setAttribute("aria-pressed", "false");
    root.appendChild(b);
  });
  S.ratingTicket = ticket; S.ratingSent = false; S.rated = null; S.reason = null;
  XW.el("rate-confirm").hidden = true;
  XW.el("rate-reasons").hidden = true;
  XW.el("rate-reasons").replaceChildren(...RATING_REASONS.map(([code, zh, en]) => {
    const b = document.createElement("button");
    b.textContent = `${zh} · ${en}`;
    b.dataset.reason = code;
    b.setAttribute("aria-pressed", "false");
    b.onclick = () => {
      if (S.ratingSent) return;
      S.reason = code;
      for (const o of XW.el("rate-reasons").querySelectorAll("button")) o.setAttribute("aria-pressed", String(o === b));
      clearTimeout(S.ratingTimer);
      S.ratingTimer = setTimeout(sendRating, RATING_SETTLE_SECS * 1000);
    };
    return b;
  }));
  speak("办理结束，请您评价");
  idleReset();
}

// Sends the chosen rating once (一事一评).
function sendRating() {
  clearTimeout(S.ratingTimer);
  if (S.ratingSent || !S.rated) return;
  S.ratingSent = true;
  XW.el("rate-confirm").hidden = true;
  const reason = UNHAPPY.includes(S.rated[2]) && S.reason ? S.reason : undefined;
  S.session.send({ type: "rate_service", ticket: S.ratingTicket, rating: S.rated[2], reason });
}

// Back to the start screen after IDLE_SECS with nobody touching the kiosk (on a finished screen).
function idleReset() {
  clearTimeout(S.idle);
  S.idle = setTimeout(() => {
    if (!XW.el("rate").hidden) sendRating();
    if (!XW.el("rate").hidden || !XW.el("closed").hidden) { S.ticket = null; S.rated = null; XW.el("rate-done").textContent = ""; XW.show("pick"); }
  }, IDLE_SECS * 1000);
}
document.addEventListener("pointerdown", () => { if (S.idle) idleReset(); });

function endCall() {
  S.inCall = false;
  clearInterval(S.callTimer);
  if (S.call) { S.call.close(); S.call = null; }
  XW.el("capture").hidden = true; XW.el("doc-request").hidden = true; XW.el("chat").replaceChildren();
}

function onMessage(m) {
  switch (m.type) {
    case "ticket_status": onStatus(m); break;
    case "call_started": startCall(m); break;
    case "sdp": case "ice_candidate": XW.signal(S.call, m); break;
    case "document_requested": docRequested(m); break;
    case "document_reviewed": reviewed(m); break;
    case "call_ended": XW.removeGuest(); endCall(); break;
    case "party_left": XW.removeGuest(); break;
    case "call_transferred":
      // Another clerk takes over; the video switches by itself (same stream through the relay).
      XW.el("call-clerk").textContent = `${m.peer.display_name} · ${S.service ? S.service.name : ""}`;
      speak(`已为您转接工作人员${m.peer.display_name}`);
      break;
    case "ticket_closed":
      endCall();
      S.caseId = m.case || null;
      if (m.reason === "served") showRating(m.ticket);
      else { showClosed(m.message_zh, m.message_en); speak(m.message_zh); }
      break;
    case "rating_recorded": {
      const [zh, en] = S.rated || ["", ""];
      XW.el("rate-done").textContent = `您的评价“${zh}”已记录，感谢您 · Your rating "${en}" is recorded. Thank you`;
      for (const b of XW.el("ratings").querySelectorAll("button")) b.disabled = true;
      break;
    }
    case "error": if (m.in_reply_to === "request_service") showClosed(m.message_zh, m.message_en); break;
  }
}

// The set-up screen: why the kiosk cannot sign in, in large Chinese, and a form for the installer.
// The camera and microphone as this kiosk finds them, told to the server on every connect and
// whenever a device comes or goes (the supervisors see it; a problem raises an alert), and to the
// citizen when one does not work. Outside a call each is opened for a moment and closed again.
const deviceWord = (e) => (e && (e.name === "NotAllowedError" || e.name === "SecurityError") ? "denied"
  : e && (e.name === "NotFoundError" || e.name === "OverconstrainedError") ? "missing" : "failed");
async function checkDevices() {
  const probe = async (kind) => {
    if (S.stream && S.stream.getTracks().some((t) => t.kind === kind && t.readyState === "live")) return "ok";
    try {
      const st = await navigator.mediaDevices.getUserMedia({ [kind]: true });
      st.getTracks().forEach((t) => t.stop());
      return "ok";
    } catch (e) { return deviceWord(e); }
  };
  let kinds = [];
  try { kinds = (await navigator.mediaDevices.enumerateDevices()).map((d) => d.kind); } catch (_) { /* probed below */ }
  const camera = kinds.length && !kinds.includes("videoinput") ? "missing" : await probe("video");
  const microphone = kinds.length && !kinds.includes("audioinput") ? "missing" : await probe("audio");
  reportDevices(camera, microphone);
}
function reportDevices(camera, microphone) {
  S.devices = { camera, microphone };
  if (S.session) S.session.send({ type: "device_status", camera, microphone });
  const banner = XW.el("device-problem");
  const broken = [camera !== "ok" && "摄像头 · camera", microphone !== "ok" && "麦克风 · microphone"].filter(Boolean);
  banner.textContent = broken.length ? `${broken.map((b) => b.split(" · ")[0]).join("和")}无法使用，请联系工作人员 · The ${broken.map((b) => b.split(" · ")[1]).join(" and ")} is not working; please ask the staff` : "";
  banner.hidden = !broken.length;
}
if (navigator.mediaDevices) navigator.mediaDevices.addEventListener("devicechange", () => { if (S.session) checkDevices(); });

function showSetup(problemZh, problemEn) {
  XW.el("setup-problem").textContent = problemZh || "本晓屋尚未设置，请联系工作人员。";
  XW.el("setup-problem-en").textContent = problemEn || "This kiosk is not set up yet; please ask the staff.";
  XW.el("net").hidden = true;
  XW.show("setup");
}

// A kiosk keeps no secret: the booth's secret (from the set-up URL or form) is exchanged once for
// a device token of this kiosk's own, and only that is kept (a supervisor can revoke it).
async function signIn(creds) {
  if (!creds.device_token) {
    const device = await XW.setUpDevice(creds.id, creds.secret);
    creds.device_token = device.token;
    delete creds.secret;
    try { localStorage.setItem("xiaowu.booth", JSON.stringify({ id: creds.id, device_token: creds.device_token })); } catch (_) {}
  }
  const login = await XW.login("booth", creds.id, null, creds.device_token);
  S.token = login.token;
  XW.el("title").textContent = login.display_name;
  return login.token;
}

async function main() {
  const creds = S.setupCreds || XW.credentials("booth", "booth");
  S.setupCreds = null;
  if (!creds) { showSetup(); return; }
  try {
    await signIn(creds);
  } catch (e) {
    if (e.rejected) {
      showSetup(`晓屋编号或密码不正确（${creds.id}），请联系工作人员重新设置。`, `${(e.body && e.body.message_en) || "Sign-in refused"}: booth ${creds.id}.`);
      return;
    }
    // The server is not reachable (restarting, network down): say so and try again.
    XW.el("net").textContent = "正在连接服务器，请稍候… · Connecting to the server…";
    XW.el("net").hidden = false;
    setTimeout(main, 3000);
    return;
  }
  XW.el("net").hidden = true;
  S.catalog = await (await fetch("/api/catalog")).json();
  renderServices();
  XW.show("pick");
  S.session = new XW.Session("booth", S.token, onMessage, (st, detail) => {
    const net = XW.el("net");
    if (st === "replaced") net.textContent = "本晓屋已在另一处登录，此页面已停止 · This booth signed in elsewhere; this page stopped";
    if (st === "reconnecting") net.textContent = "网络重连中，您的排队位置已保留 · Reconnecting; your place is kept";
    if (st === "server_shutdown") net.textContent = "系统维护中，稍后自动重新连接 · The server is restarting; reconnecting shortly";
    if (st === "signed_out") {
      showSetup("本晓屋的登录已失效，请联系工作人员重新设置。", `${(detail && detail.body && detail.body.message_en) || "Signed out"}.`);
      return;
    }
    net.hidden = st === "online";
    if (st === "online") checkDevices();
  }, () => signIn(creds));
  window.xwBooth = S;
}

XW.el("setup-form").onsubmit = (e) => {
  e.preventDefault();
  const creds = { id: XW.el("setup-id").value.trim(), secret: XW.el("setup-secret").value };
  if (!creds.id || !creds.secret) return;
  S.setupCreds = creds;
  main().catch(reportError);
};

// Large text only enlarges the text: priority is the citizen's own choice (its own box).
XW.el("elderly").onclick = (e) => { const on = document.body.classList.toggle("elderly"); e.target.setAttribute("aria-pressed", on); };
XW.el("materials-go").onclick = () => { if (S.pending) request(S.pending); };
XW.el("materials-back").onclick = () => { S.pending = null; XW.show("pick"); };
XW.el("assist").onclick = () => { const s = S.catalog.services.find((x) => x.code === ASSIST); if (s) request(s); };
XW.el("mute").onclick = (e) => {
  const muted = e.target.getAttribute("aria-pressed") !== "true";
  for (const t of (S.stream ? S.stream.getAudioTracks() : [])) t.enabled = !muted;
  e.target.setAttribute("aria-pressed", muted);
  e.target.textContent = muted ? "打开麦克风 · Unmute" : "关闭麦克风 · Mute";
};
for (const [zh, en] of QUICK_REPLIES) {
  const b = document.createElement("button");
  b.textContent = zh; b.title = en; b.lang = "zh-CN";
  b.onclick = () => { if (S.call && S.call.say(zh)) addChat("我", zh); };
  XW.el("quick-replies").appendChild(b);
}
XW.el("lang").onclick = (e) => { S.english = !S.english; e.target.textContent = S.english ? "中文" : "English"; e.target.lang = S.english ? "zh-CN" : "en"; document.documentElement.lang = S.english ? "en" : "zh-CN"; renderServices(); };
XW.el("cancel").onclick = () => S.ticket && S.session.send({ type: "cancel_ticket", ticket: S.ticket });
XW.el("hangup").onclick = () => S.call && S.session.send({ type: "hang_up", call: S.call.call });
XW.el("snap").onclick = snapshot; XW.el("retake").onclick = retake; XW.el("send").onclick = sendPhoto;
// The reason in large Chinese, with the English below it in smaller type.
function showClosed(zh, en) {
  XW.el("closed-reason").textContent = zh;
  XW.el("closed-reason-en").textContent = en;
  XW.show("closed");
  idleReset();
}

XW.el("again").onclick = XW.el("back").onclick = XW.el("category-back").onclick = () => { sendRating(); S.ticket = null; XW.show("pick"); };
XW.el("rate-confirm").onclick = sendRating;
function reportError(e) {
  const p = document.createElement("p");
  p.className = "notice error"; p.setAttribute("role", "alert"); p.textContent = e.message;
  document.body.append(p);
}
main().catch(reportError);
