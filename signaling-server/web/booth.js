// Booth kiosk: pick a service (one tap), follow the queue (spoken prompts), take the call, send
// document photos, rate the service. The kiosk is set up once: its booth id and secret come from
// the URL the installer opens (?booth=…&secret=…) and are kept on the device; a kiosk never set up
// shows the set-up screen, never a built-in account.
"use strict";
const S = { ticket: null, call: null, stream: null, docType: null, token: null, english: false, catalog: null };
// Icons are drawn as coloured badges with one character: no emoji font is needed on the kiosk.
const ICONS = { "教育": ["教", "#1565c0"], "市场主体": ["商", "#6a1b9a"], "民生": ["民", "#2e7d32"], "社保": ["保", "#00838f"], "不动产": ["房", "#8d6e63"], "公积金": ["金", "#ef6c00"], "医保": ["医", "#c62828"], "户籍": ["户", "#283593"], "民政": ["政", "#558b2f"], "交通": ["车", "#37474f"], "税务": ["税", "#4e342e"], "农业": ["农", "#33691e"], "住建": ["建", "#5d4037"] };
const icon = (cat) => { const [ch, color] = ICONS[cat] || ["办", "#455a64"]; return `<span class="icon" aria-hidden="true" style="background:${color}">${ch}</span>`; };
const RATINGS = [["very_satisfied", "非常满意", "Very satisfied"], ["satisfied", "满意", "Satisfied"], ["acceptable", "基本满意", "Acceptable"], ["dissatisfied", "不满意", "Dissatisfied"], ["very_dissatisfied", "非常不满意", "Very dissatisfied"]];

function speak(text) {
  try { const u = new SpeechSynthesisUtterance(text); u.lang = "zh-CN"; speechSynthesis.speak(u); } catch (_) {}
}

function renderServices() {
  const groups = {};
  for (const s of S.catalog.services) (groups[s.category] = groups[s.category] || []).push(s);
  const root = XW.el("groups");
  root.innerHTML = "";
  for (const [cat, list] of Object.entries(groups)) {
    const g = document.createElement("div");
    g.className = "group";
    g.innerHTML = `<h2>${cat}</h2>`;
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    for (const s of list) {
      const b = document.createElement("button");
      b.className = "tile";
      b.dataset.service = s.code;
      b.innerHTML = `${icon(cat)}<span>${S.english ? s.name_en : s.name}<br><small>${S.english ? s.name : s.name_en}</small></span>`;
      b.onclick = () => request(s);
      tiles.appendChild(b);
    }
    g.appendChild(tiles);
    root.appendChild(g);
  }
}

function request(service) {
  S.service = service;
  XW.el("q-service").textContent = `${service.name} · ${service.name_en}`;
  S.session.send({ type: "request_service", service: service.code, priority: XW.el("priority").checked ? "elderly" : "normal" });
}

function onStatus(m) {
  S.ticket = m.ticket;
  XW.el("q-ticket").textContent = m.number;
  const notice = m.notice === "resumed" ? "网络已恢复，您的排队位置已保留。" : m.notice ? "工作人员连接中断，您已回到队首。" : "";
  let text;
  if (m.state === "waiting") {
    const est = m.estimated_wait_secs == null ? "暂无法估计" : `约 ${XW.fmtSecs(m.estimated_wait_secs)}`;
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
  S.stream = S.stream || await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  XW.el("local").srcObject = S.stream;
  S.call = new XW.Call(S.session, m, S.stream, {
    onRemoteStream: (st) => { XW.el("remote").srcObject = st; },
    onChat: (t) => addChat("工作人员", t),
  });
  window.xwCall = S.call;
  speak("已为您接通工作人员");
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
  const root = XW.el("ratings");
  root.innerHTML = "";
  for (const [code, zh, en] of RATINGS) {
    const b = document.createElement("button");
    b.textContent = `${zh} · ${en}`;
    b.dataset.rating = code;
    b.onclick = () => S.session.send({ type: "rate_service", ticket, rating: code });
    root.appendChild(b);
  }
  speak("办理结束，请您评价");
}

function endCall() {
  S.inCall = false;
  if (S.call) { S.call.close(); S.call = null; }
  XW.el("capture").hidden = true; XW.el("doc-request").hidden = true; XW.el("chat").innerHTML = "";
}

function onMessage(m) {
  switch (m.type) {
    case "ticket_status": onStatus(m); break;
    case "call_started": startCall(m); break;
    case "sdp": case "ice_candidate": if (S.call) S.call.onSignal(m); break;
    case "document_requested": docRequested(m); break;
    case "document_reviewed": reviewed(m); break;
    case "call_ended": endCall(); break;
    case "ticket_closed":
      endCall();
      if (m.reason === "served") showRating(m.ticket);
      else { showClosed(m.message_zh, m.message_en); speak(m.message_zh); }
      break;
    case "rating_recorded": XW.el("rate-done").textContent = "感谢您的评价 · Thank you for your rating"; break;
    case "error": if (m.in_reply_to === "request_service") showClosed(m.message_zh, m.message_en); break;
  }
}

// The set-up screen: why the kiosk cannot sign in, in large Chinese, and a form for the installer.
function showSetup(problemZh, problemEn) {
  XW.el("setup-problem").textContent = problemZh || "本晓屋尚未设置，请联系工作人员。";
  XW.el("setup-problem-en").textContent = problemEn || "This kiosk is not set up yet; please ask the staff.";
  XW.el("net").hidden = true;
  XW.show("setup");
}

async function signIn(creds) {
  const login = await XW.login("booth", creds.id, creds.secret);
  S.token = login.token;
  XW.el("title").textContent = login.display_name;
  return login.token;
}

async function main() {
  const creds = XW.credentials("booth", "booth");
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
  }, () => signIn(creds));
  window.xwBooth = S;
}

XW.el("setup-form").onsubmit = (e) => {
  e.preventDefault();
  const creds = { id: XW.el("setup-id").value.trim(), secret: XW.el("setup-secret").value };
  if (!creds.id || !creds.secret) return;
  try { localStorage.setItem("xiaowu.booth", JSON.stringify(creds)); } catch (_) {}
  main().catch(reportError);
};

XW.el("elderly").onclick = (e) => { const on = document.body.classList.toggle("elderly"); e.target.setAttribute("aria-pressed", on); XW.el("priority").checked = on; };
XW.el("lang").onclick = (e) => { S.english = !S.english; e.target.textContent = S.english ? "中文" : "English"; e.target.lang = S.english ? "zh-CN" : "en"; document.documentElement.lang = S.english ? "en" : "zh-CN"; renderServices(); };
XW.el("cancel").onclick = () => S.ticket && S.session.send({ type: "cancel_ticket", ticket: S.ticket });
XW.el("hangup").onclick = () => S.call && S.session.send({ type: "hang_up", call: S.call.call });
XW.el("snap").onclick = snapshot; XW.el("retake").onclick = retake; XW.el("send").onclick = sendPhoto;
XW.el("chat-send").onclick = () => { const t = XW.el("chat-input").value.trim(); if (t && S.call && S.call.say(t)) { addChat("我", t); XW.el("chat-input").value = ""; } };
// The reason in large Chinese, with the English below it in smaller type.
function showClosed(zh, en) {
  XW.el("closed-reason").textContent = zh;
  XW.el("closed-reason-en").textContent = en;
  XW.show("closed");
}

XW.el("again").onclick = XW.el("back").onclick = () => { S.ticket = null; XW.show("pick"); };
function reportError(e) {
  const p = document.createElement("p");
  p.className = "notice error"; p.setAttribute("role", "alert"); p.textContent = e.message;
  document.body.append(p);
}
main().catch(reportError);
