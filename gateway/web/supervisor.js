// Supervisor dashboard: live load per hall and item, the waiting chart, clerks (with forced
// states), booths, live calls to monitor, alerts, reports, staffing advice and recent cases.
"use strict";
const waitingHistory = [];
window.xwHistory = waitingHistory;
// The last hour as a step line over a grid: waiting count on the left, minutes ago below.
function draw() {
  const c = XW.el("chart");
  if (c.clientWidth && c.width !== c.clientWidth) c.width = c.clientWidth;
  const g = c.getContext("2d"), W = c.width, H = c.height, left = 44, right = 12, top = 10, bottom = 26;
  g.clearRect(0, 0, W, H);
  const now = Date.now(), cutoff = now - 3600e3;
  while (waitingHistory.length > 1 && waitingHistory[1][0] < cutoff) waitingHistory.shift();
  const values = waitingHistory.map((h) => h[1]);
  const max = Math.max(4, ...values);
  const x = (t) => left + (Math.max(t, cutoff) - cutoff) / 3600e3 * (W - left - right);
  const y = (n) => top + (1 - n / max) * (H - top - bottom);
  g.font = "15px 'Noto Sans CJK SC', sans-serif"; g.fillStyle = "#333"; g.strokeStyle = "#ccc"; g.lineWidth = 1;
  for (const n of [0, Math.round(max / 2), max]) {
    g.beginPath(); g.moveTo(left, y(n)); g.lineTo(W - right, y(n)); g.stroke();
    g.fillText(String(n), 6, y(n) + 5);
  }
  for (const m of [60, 45, 30, 15, 0]) {
    const label = m ? `${m}分钟前` : "现在 now";
    g.fillText(label, Math.min(x(now - m * 60e3) - 20, W - right - 70), H - 6);
  }
  g.strokeStyle = "#b3261e"; g.lineWidth = 3; g.beginPath();
  waitingHistory.forEach(([t, n], i) => {
    if (i === 0) g.moveTo(x(t), y(n));
    else { g.lineTo(x(t), y(waitingHistory[i - 1][1])); g.lineTo(x(t), y(n)); }
  });
  if (waitingHistory.length) g.lineTo(x(now), y(values[values.length - 1]));
  g.stroke();
  const current = values.length ? values[values.length - 1] : 0;
  const peak = Math.max(0, ...values);
  XW.el("chart-summary").textContent = `近一小时：当前 ${current}，最高 ${peak} · Last hour: now ${current}, peak ${peak}`;
}
const STATE = { available: "空闲 Available", offered: "来电 Offered", in_call: "通话中 In call", wrap_up: "整理 Wrap-up", away: "暂离 Away" };
let session, token;
const OUTCOMES = { completed: "已办结", accepted: "已受理", missing_documents: "材料不全", needs_visit: "需到现场", referred: "转办", consultation: "咨询", not_eligible: "不予受理", not_recorded: "未记录" };
const RATINGS = { very_satisfied: "非常满意", satisfied: "满意", acceptable: "基本满意", dissatisfied: "不满意", very_dissatisfied: "非常不满意" };
// The scope's latest case records (GET /api/cases), refreshed every 15 s. Notes stay with the
// clerk's record and are not shown on the wall screen.
async function loadCases() {
  const r = await XW.api("/api/cases?limit=20", token);
  if (!r.ok) return;
  const rows = (await r.json()).cases.map((c) => {
    const tr = document.createElement("tr");
    for (const text of [new Date(c.recorded_unix * 1000).toLocaleTimeString("zh-CN"), c.hall, c.clerk, c.service, c.booth, OUTCOMES[c.outcome], c.rating ? RATINGS[c.rating] : "—"]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    tr.append(XW.recordingButton(c.call, () => token));
    return tr;
  });
  XW.el("cases").replaceChildren(...rows);
}
// The kiosks set up for the scope's booths (GET /api/devices); a lost or stolen kiosk is revoked
// here (DELETE /api/devices/{id}): its next sign-in is refused.
async function loadKiosks() {
  const r = await XW.api("/api/devices", token);
  if (!r.ok) return;
  const when = (ms) => (ms == null ? "—" : new Date(ms).toLocaleString("zh-CN"));
  XW.el("kiosks").replaceChildren(...(await r.json()).devices.map((d) => {
    const action = XW.h("td");
    if (d.revoked_ms == null) {
      const b = XW.h("button", { "data-revoke": d.device, "aria-label": `吊销 · Revoke ${d.booth_name}` }, "吊销 · Revoke");
      b.onclick = async () => {
        if (!confirm(`吊销此设备？该晓屋需重新设置后才能登录。\nRevoke this kiosk? It must be set up again to sign in.`)) return;
        await XW.api(`/api/devices/${encodeURIComponent(d.device)}`, token, { method: "DELETE" });
        loadKiosks();
      };
      action.append(b);
    }
    const status = d.revoked_ms == null ? "有效 · Active" : `已吊销 · Revoked (${when(d.revoked_ms)})`;
    return XW.row([d.booth_name || d.booth, when(d.created_ms), when(d.last_login_ms), status, action], { "data-device": d.device });
  }));
}
// Live calls of the scope (GET /api/calls?live=true), refreshed every 5 s; a relayed call can be
// watched and heard without the parties knowing (monitor_call; the relay's offer follows).
let monitoring = null;
async function loadLive() {
  const r = await XW.api("/api/calls?live=true", token);
  if (!r.ok) return;
  const rows = (await r.json()).calls.map((c) => {
    const tr = document.createElement("tr");
    for (const text of [c.service_name, c.booth_name, `${c.clerk_name} (${c.clerk})`, c.recording ? "是 Yes" : "否 No"]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.textContent = "监看 · Monitor"; b.dataset.call = c.call; b.disabled = c.media !== "relay";
    b.setAttribute("aria-label", `监看 · Monitor ${c.booth_name}`);
    b.onclick = () => session.send({ type: "monitor_call", call: c.call });
    td.append(b); tr.append(td);
    return tr;
  });
  XW.el("live").replaceChildren(...rows);
}
function stopMonitor() {
  if (monitoring) { monitoring.close(); monitoring = null; }
  XW.el("monitor").hidden = true;
  XW.el("monitor-booth").srcObject = null; XW.el("monitor-clerk").srcObject = null;
}
XW.el("monitor-stop").onclick = () => { if (monitoring) session.send({ type: "stop_monitoring", call: monitoring.call }); stopMonitor(); };
function force(clerk, state) {
  session.send({ type: "force_clerk_state", clerk, state, why: XW.el("why").value || "现场调度" });
}
// 告警: most urgent first, as the server sends them.
function showAlerts(alerts) {
  XW.el("alerts-none").hidden = alerts.length > 0;
  XW.el("alerts").replaceChildren(...alerts.map((a) => {
    const li = document.createElement("li");
    li.dataset.kind = a.kind;
    li.textContent = `${a.message_zh} · ${a.message_en}（${new Date(a.since_unix * 1000).toLocaleTimeString("zh-CN")} 起）`;
    return li;
  }));
}
const today = () => new Date(Date.now() + 8 * 3600e3).toISOString().slice(0, 10);
const pct = (x) => (x == null ? "—" : `${Math.round(x * 100)}%`);
const secs = (x) => (x == null ? "—" : XW.fmtSecs(Math.round(x)));
async function showReport(e) {
  if (e) e.preventDefault();
  const q = `from=${XW.el("report-from").value}&to=${XW.el("report-to").value}&group=${XW.el("report-group").value}`;
  const r = await XW.api(`/api/reports?${q}`, token);
  const body = await r.json();
  if (!r.ok) { XW.el("report-status").textContent = `${body.message_zh} · ${body.message_en}`; return; }
  XW.el("report-status").textContent = `${body.rows.length} 行 · rows`;
  XW.el("report-rows").replaceChildren(...body.rows.map((row) => {
    const tr = document.createElement("tr");
    const group = [row.hall, row.service, row.period].filter((x) => x != null).join(" · ");
    const cells = [group, row.offered, row.answered, row.abandoned, pct(row.service_level), secs(row.asa_secs), secs(row.aht_secs), secs(row.p90_wait_secs), pct(row.overflow_rate), pct(row.bad_rating_rate), secs(row.estimate_mae_secs), row.estimate_bias_secs == null ? "—" : `${row.estimate_bias_secs > 0 ? "+" : ""}${Math.round(row.estimate_bias_secs)}s`];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    return tr;
  }));
  XW.el("formulas").replaceChildren(...Object.entries(body.formulas).flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    return [dt, dd];
  }));
  // Bars: offered per period (or per group without a time grouping).
  const totals = new Map();
  for (const row of body.rows) { const k = row.period || row.hall || row.service || "—"; totals.set(k, (totals.get(k) || 0) + row.offered); }
  const svg = XW.el("report-bars"), w = 1200, h = 160, n = Math.max(totals.size, 1), max = Math.max(1, ...totals.values());
  const title = svg.querySelector("title");
  svg.replaceChildren(title);
  [...totals.entries()].forEach(([k, v], i) => {
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const bh = Math.round((v / max) * (h - 20));
    bar.setAttribute("x", String(Math.round((i * w) / n) + 2)); bar.setAttribute("width", String(Math.max(2, Math.floor(w / n) - 4)));
    bar.setAttribute("y", String(h - bh)); bar.setAttribute("height", String(bh)); bar.setAttribute("fill", "#8b1a1a");
    const tip = document.createElementNS("http://www.w3.org/2000/svg", "title"); tip.textContent = `${k}: ${v}`; bar.append(tip);
    svg.append(bar);
  });
  title.textContent = `受理量 · Offered: ${[...totals.entries()].map(([k, v]) => `${k} ${v}`).join(", ") || "—"}`;
  drawLines(body.rows);
  showClerkReport();
  showAlertHistory();
  XW.el("report-csv").href = "#";
  XW.el("report-csv").onclick = async (ev) => {
    ev.preventDefault();
    const csv = await (await XW.api(`/api/reports?${q}&format=csv`, token)).blob();
    const a = document.createElement("a"); a.href = URL.createObjectURL(csv); a.download = `xiaowu-report-${XW.el("report-from").value}.csv`; a.click();
  };
}
// Lines: the service level and the answered share per period (all groups of a period together).
function drawLines(rows) {
  const per = new Map();
  for (const row of rows) {
    if (!row.period) continue;
    const p = per.get(row.period) || { offered: 0, answered: 0, within: 0 };
    p.offered += row.offered; p.answered += row.answered; p.within += (row.service_level || 0) * row.answered;
    per.set(row.period, p);
  }
  const svg = XW.el("report-lines"), w = 1200, h = 160, left = 50, pts = [...per.entries()];
  const title = svg.querySelector("title");
  svg.replaceChildren(title);
  const ns = "http://www.w3.org/2000/svg";
  const y = (v) => Math.round(h - 10 - v * (h - 20));
  for (const v of [0, 0.5, 1]) {
    const g = document.createElementNS(ns, "line");
    g.setAttribute("x1", String(left)); g.setAttribute("x2", String(w)); g.setAttribute("y1", String(y(v))); g.setAttribute("y2", String(y(v)));
    g.setAttribute("stroke", "#ccc");
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", "4"); t.setAttribute("y", String(y(v) + 4)); t.setAttribute("font-size", "12"); t.textContent = `${v * 100}%`;
    svg.append(g, t);
  }
  const step = pts.length > 1 ? (w - left - 20) / (pts.length - 1) : 0;
  const x = (i) => Math.round(left + 10 + i * step);
  const line = (value, color) => {
    const pl = document.createElementNS(ns, "polyline");
    pl.setAttribute("points", pts.map(([, p], i) => `${x(i)},${y(value(p))}`).join(" "));
    pl.setAttribute("fill", "none"); pl.setAttribute("stroke", color); pl.setAttribute("stroke-width", "3");
    svg.append(pl);
    // A dot per period, so that a single period shows too.
    pts.forEach(([, p], i) => {
      const dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", String(x(i))); dot.setAttribute("cy", String(y(value(p)))); dot.setAttribute("r", "5"); dot.setAttribute("fill", color);
      svg.append(dot);
    });
  };
  if (pts.length) {
    line((p) => (p.answered ? p.within / p.answered : 0), "#8b1a1a");
    line((p) => (p.offered ? p.answered / p.offered : 0), "#1a4f8b");
  }
  title.textContent = `服务水平与接通率 · Service level and answered share: ${pts.map(([k, p]) => `${k} ${pct(p.answered ? p.within / p.answered : null)} / ${pct(p.offered ? p.answered / p.offered : null)}`).join(", ") || "—"}`;
}
// One row across a table's columns saying it has nothing to show.
function emptyRow(columns, text) {
  const tr = document.createElement("tr"), td = document.createElement("td");
  td.colSpan = columns; td.textContent = text; tr.append(td);
  return tr;
}
async function showAlertHistory() {
  const q = `from=${XW.el("report-from").value}&to=${XW.el("report-to").value}`;
  const r = await XW.api(`/api/alerts?${q}`, token);
  if (!r.ok) return;
  const body = await r.json();
  if (!body.events.length) { XW.el("alert-history").replaceChildren(emptyRow(3, "这段时间没有告警 · No alerts in this range")); return; }
  XW.el("alert-history").replaceChildren(...body.events.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.event = e.event; tr.dataset.kind = e.alert.kind;
    const when = new Date(e.at_unix_ms).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai" });
    const what = e.event === "raised" ? "发生 · raised" : "解除 · cleared";
    for (const c of [when, what, `${e.alert.message_zh} · ${e.alert.message_en}`]) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    return tr;
  }));
}
async function showClerkReport() {
  const q = `from=${XW.el("report-from").value}&to=${XW.el("report-to").value}&group=clerk`;
  const r = await XW.api(`/api/reports/clerks?${q}`, token);
  if (!r.ok) return;
  const body = await r.json();
  if (!body.rows.length) { XW.el("clerk-report-rows").replaceChildren(emptyRow(9, "这段时间没有坐席在线 · No clerk signed in in this range")); return; }
  XW.el("clerk-report-rows").replaceChildren(...body.rows.map((row) => {
    const tr = document.createElement("tr");
    const cells = [row.clerk, row.hall, row.calls, secs(row.signed_in_secs), secs(row.talk_secs), secs(row.wrap_secs), secs(row.away_secs), pct(row.occupancy), secs(row.aht_secs)];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    return tr;
  }));
}
async function showStaffing(e) {
  if (e) e.preventDefault();
  const r = await XW.api(`/api/staffing?week=${XW.el("staffing-week").value}`, token);
  const body = await r.json();
  if (!r.ok) { XW.el("staffing-status").textContent = `${body.message_zh} · ${body.message_en}`; return; }
  XW.el("staffing-status").textContent = `${body.week} 起一周，目标 ${Math.round(body.goal * 100)}% · Week of ${body.week}, goal ${Math.round(body.goal * 100)} %`;
  XW.el("staffing-rows").replaceChildren(...body.rows.map((row) => {
    const tr = document.createElement("tr");
    // Short of clerks (needed more than signed in now): marked.
    if (row.clerks_needed > row.clerks_signed_in_now) tr.className = "short";
    const then = row.clerks_signed_in_then == null ? "—" : row.clerks_signed_in_then.toFixed(1);
    const cells = [row.hall, row.service, row.hour.slice(5, 16).replace("T", " "), row.arrivals_per_hour.toFixed(2), secs(row.aht_secs), row.clerks_needed, row.clerks_signed_in_now, then];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    return tr;
  }));
}
XW.el("report-form").onsubmit = showReport;
XW.el("staffing-form").onsubmit = showStaffing;
XW.el("report-from").value = XW.el("report-to").value = today();
XW.el("staffing-week").value = new Date(Date.now() + 8 * 3600e3 + 7 * 86400e3).toISOString().slice(0, 10);
let showAll = false;
XW.el("show-all").onclick = (e) => { showAll = !showAll; e.target.setAttribute("aria-pressed", String(showAll)); };
function onMessage(m) {
  if (m.type === "alerts") { showAlerts(m.alerts); return; }
  if (m.type === "booth_list") {
    const online = m.booths.filter((b) => b.online).length;
    XW.el("booths-summary").textContent = `在线 ${online} / ${m.booths.length} · Online ${online} of ${m.booths.length}`;
    XW.el("booths").replaceChildren(...m.booths.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.booth = b.booth; tr.dataset.online = String(b.online);
      const status = b.online ? "在线 · Online"
        : b.offline_since_unix ? `离线 · Offline since ${new Date(b.offline_since_unix * 1000).toLocaleTimeString("zh-CN")}` : "未连接 · Not connected";
      const words = { ok: "正常 ok", missing: "未连接 missing", denied: "无权限 denied", failed: "无法打开 failed" };
      const devices = b.camera == null ? "—" : `摄像头 camera ${words[b.camera]} · 麦克风 mic ${words[b.microphone]}`;
      tr.dataset.camera = b.camera || "";
      if ((b.camera && b.camera !== "ok") || (b.microphone && b.microphone !== "ok")) tr.className = "short";
      for (const x of [b.name, b.region, status, devices]) { const td = document.createElement("td"); td.textContent = x; tr.append(td); }
      return tr;
    }));
    return;
  }
  if (m.type === "monitor_started") {
    stopMonitor();
    XW.el("monitor").hidden = false;
    XW.el("monitor-who").textContent = `${m.booth_name} ↔ ${m.clerk_name}`;
    monitoring = new XW.Call(session, { call: m.call, ice_servers: m.ice_servers, initiator: false, media: "relay" }, null, {
      onRemoteStream: (st) => { const v = XW.el(st.id === "clerk" ? "monitor-clerk" : "monitor-booth"); if (v.srcObject !== st) v.srcObject = st; },
      onChat: () => {},
    }, { monitor: true });
    window.xwMonitor = monitoring;
    return;
  }
  if (m.type === "monitor_ended") { stopMonitor(); return; }
  if (m.type === "sdp" || m.type === "ice_candidate") { XW.signal(monitoring, m); return; }
  if (m.type === "queue_history") {
    // The server's samples of the last hour come first; live updates continue the line.
    waitingHistory.splice(0, waitingHistory.length, ...m.points.map((p) => [p.at * 1000, p.waiting]));
    XW.el("chart").dataset.points = waitingHistory.length;
    draw();
    return;
  }
  if (m.type === "clerk_list") {
    XW.el("clerks").replaceChildren(...m.clerks.map((c) => XW.row([
      `${c.name} (${c.clerk})`, c.hall_name,
      XW.h("td", { class: "state" }, `${STATE[c.state]}${c.reason ? ` (${c.reason})` : ""}`),
      XW.fmtSecs(c.secs_in_state), c.calls_today || 0,
      c.avg_handle_secs == null ? "—" : XW.fmtSecs(c.avg_handle_secs),
      c.missed_offers_today || 0, `${c.ratings_today || 0} (${c.bad_ratings_today || 0})`,
      XW.h("td", {},
        XW.h("button", { "data-force": "available", "aria-label": `设为空闲 ${c.clerk}` }, "空闲"), " ",
        XW.h("button", { "data-force": "away", "aria-label": `设为暂离 ${c.clerk}` }, "暂离")),
    ], { "data-clerk": c.clerk })));
    for (const b of XW.el("clerks").querySelectorAll("button")) b.onclick = () => force(b.closest("tr").dataset.clerk, b.dataset.force);
    return;
  }
  if (m.type !== "queue_load") return;
  const total = m.rows.reduce((a, r) => a + r.waiting, 0);
  XW.el("total").textContent = `排队总数 · Waiting: ${total}`;
  XW.el("total").dataset.waiting = total;
  waitingHistory.push([Date.now(), total]);
  XW.el("chart").dataset.points = waitingHistory.length;
  draw();
  // A province supervisor's roll-up by city (shown when the scope spans more than one).
  const cities = new Map();
  for (const r of m.rows) {
    if (!r.city) continue;
    const c = cities.get(r.city) || { name: r.city_name, waiting: 0, longest: 0, answered: 0, within: 0, eligible: 0, available: 0, in_call: 0 };
    c.waiting += r.waiting; c.longest = Math.max(c.longest, r.longest_wait_secs);
    c.answered += r.answered_today || 0; c.within += r.answered_within_target_today || 0;
    c.eligible += r.clerks_eligible; c.available += r.clerks_available; c.in_call += r.clerks_in_call;
    cities.set(r.city, c);
  }
  XW.el("by-city").hidden = cities.size < 2;
  XW.el("cities").replaceChildren(...[...cities.entries()].sort((a, b) => b[1].longest - a[1].longest).map(([id, c]) => {
    const tr = document.createElement("tr");
    tr.dataset.city = id;
    const cells = [c.name, c.waiting, XW.fmtSecs(c.longest), c.answered ? `${Math.round((c.within / c.answered) * 100)}% (${c.within}/${c.answered})` : "—", c.eligible, c.available, c.in_call];
    for (const x of cells) { const td = document.createElement("td"); td.textContent = x; tr.append(td); }
    return tr;
  }));
  // Most urgent first (longest wait, then most waiting); queues with nobody waiting and nobody
  // signed in are folded unless asked for, so a wall screen shows what matters.
  const rows = [...m.rows].sort((a, b) => b.longest_wait_secs - a.longest_wait_secs || b.waiting - a.waiting);
  const shown = showAll ? rows : rows.filter((r) => r.waiting > 0 || r.clerks_eligible > 0);
  XW.el("folded").textContent = rows.length > shown.length ? `已折叠 ${rows.length - shown.length} 个空闲队列 · ${rows.length - shown.length} idle queues folded` : "";
  XW.el("rows").replaceChildren(...shown.map((r) => XW.row([
    r.region_name, r.service_name, r.waiting, XW.fmtSecs(r.longest_wait_secs), r.overflowing,
    r.service_level == null ? "—" : `${Math.round(r.service_level * 100)}% (${r.answered_within_target_today}/${r.answered_today})`,
    r.clerks_eligible, r.clerks_available, r.clerks_in_call, r.clerks_wrap_up, r.clerks_away,
  ])));
}
// Signs in with the account given (URL ?id=…&secret=…, or the form); never with a built-in one. A
// refusal is shown as the server words it; after a server restart the session reconnects and, if
// its token is refused, signs in again with the same account.
async function signIn(id, secret) {
  const failed = XW.el("signin-error");
  try {
    const login = await XW.login("supervisor", id, secret);
    XW.el("title").textContent = `督导大屏 · ${login.display_name}`;
    token = login.token;
    const relogin = async () => { token = (await XW.login("supervisor", id, secret)).token; return token; };
    session = new XW.Session("supervisor", login.token, onMessage, (st, detail) => {
      if (st === "signed_out") {
        XW.el("dashboard").hidden = true; XW.el("signin").hidden = false;
        failed.hidden = false; failed.textContent = `登录已失效，请重新登录 · Signed out: ${(detail && detail.body && detail.body.message_en) || "sign in again"}`;
      }
    }, relogin);
    XW.el("signin").hidden = true; XW.el("dashboard").hidden = false;
    loadCases();
    setInterval(loadCases, 15000);
    loadKiosks();
    setInterval(loadKiosks, 60000);
    loadLive();
    setInterval(loadLive, 5000);
  } catch (e) {
    failed.hidden = false;
    failed.textContent = e.unreachable
      ? "无法连接服务器，请稍后再试 · The server cannot be reached; try again shortly"
      : `${(e.body && e.body.message_zh) || "登录失败"} · ${(e.body && e.body.message_en) || e.message}`;
  }
}
XW.el("signin-form").onsubmit = (e) => { e.preventDefault(); signIn(XW.el("sup-id").value.trim(), XW.el("sup-secret").value); };
XW.el("sup-id").value = XW.params.get("id") || "";
if (XW.params.get("id") && XW.params.get("secret")) signIn(XW.params.get("id"), XW.params.get("secret"));
