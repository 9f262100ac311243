// Calls through the media relay in real Chromium: the kiosk says the call is recorded; a
// supervisor's dashboard lists the live call and monitors it — both sides' video decoded in the
// supervisor's page while the Chromium booth and the Rust clerk go on — and another city's
// supervisor does not see it; the finished recording plays from the dashboard's recent cases. A
// Chromium clerk invites a second Chromium clerk into the call (三方通话), all three see each
// other, and the call is handed to the second clerk (转接), who finishes it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startAll, waitFor, audit, root, shots, KIOSK, DESKTOP, chooseService, goAvailable } from "./harness.mjs";

let env, base, page;
before(async () => { env = await startAll(); ({ base, page } = env); });
after(async () => { await env?.stop(); });

const decodedBy = (p, id) => p.evaluate(async (id) => {
  const call = window.xwMonitor;
  const video = document.getElementById(id);
  if (!call || !video.srcObject) return 0;
  const track = video.srcObject.getVideoTracks()[0];
  let n = 0;
  (await call.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video" && r.trackIdentifier === track.id) n = r.framesDecoded || 0; });
  return n;
}, id);

test("a supervisor monitors a live Chromium booth ↔ Rust clerk call, another city does not see it, the recording plays", async () => {
  const rust = spawn(join(root, "target/debug/agent-console"), ["--server", base, "--clerk", "clerk-hekou-1", "--secret", "demo", "--auto-accept", "--hold", "12", "--json", "--timeout", "60"]);
  let out = "";
  rust.stdout.on("data", (d) => { out += d; });
  rust.stderr.on("data", (d) => process.stderr.write(d));
  const done = new Promise((res) => rust.on("exit", res));
  await waitFor(() => out.includes('"state":"available"'), "the Rust clerk available");
  const booth = await page("/booth?booth=booth-gudao-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  await chooseService(booth, "teacher-cert");
  await booth.waitForSelector("#call:not([hidden])");
  await booth.waitForSelector("#recording-notice:not([hidden])");
  assert.match(await booth.textContent("#recording-notice"), /本次服务全程录音录像/);

  const sup = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  await sup.waitForSelector("#live button[data-call]", { timeout: 15000 });
  const other = await page("/supervisor?id=sup-binzhou&secret=demo", DESKTOP);
  await other.waitForSelector("#dashboard:not([hidden])");
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await other.locator("#live tr").count(), 0, "another city's supervisor sees no live call");

  await sup.click("#live button[data-call]");
  await sup.waitForSelector("#monitor:not([hidden])");
  await waitFor(async () => (await decodedBy(sup, "monitor-booth")) > 0 && (await decodedBy(sup, "monitor-clerk")) > 0,
    "both sides decoded in the supervisor's page");
  await sup.screenshot({ path: join(shots, "supervisor-monitor.png") });
  await audit(sup, "the dashboard while monitoring");
  // The citizen's call goes on, unaware.
  assert.equal(await booth.isVisible("#call"), true);
  await sup.click("#monitor-stop");
  await sup.waitForSelector("#monitor", { state: "hidden" });

  assert.equal(await done, 0, `the Rust clerk finished its call:\n${out}`);
  const call = JSON.parse(out.trim().split("\n").pop()).media[0].call;
  // The recording, once indexed, plays from the dashboard's recent cases: the booth's and the
  // clerk's views side by side, each with its picture and its own voice, time advancing in both.
  await waitFor(async () => {
    await sup.reload();
    await sup.waitForSelector("#dashboard:not([hidden])");
    return sup.waitForSelector(`#cases button[data-recording="${call}"]`, { timeout: 3000 }).then(() => true, () => false);
  }, "the case with its recording button", 30000);
  await waitFor(async () => {
    // Once open, the player (fixed in the corner) may cover the button: click only to open it.
    if (!(await sup.isVisible("#player"))) await sup.click(`#cases button[data-recording="${call}"]`);
    return sup.evaluate(() => !!document.getElementById("player-video-clerk")?.src);
  }, "the recording loaded").catch(async (e) => {
    // What the player said, for the failure's message.
    const said = await sup.evaluate(() => document.getElementById("player-status")?.textContent);
    throw new Error(`${e.message} (the player says: ${said})`);
  });
  const played = await sup.evaluate(async () => {
    const videos = [...document.querySelectorAll("#player video")];
    // Muted: a page may not play sound before a click (the lead's own controls are that click).
    for (const v of videos) v.muted = true;
    await videos[0].play();
    await new Promise((res) => setTimeout(res, 2000));
    return videos.map((v) => ({ party: v.dataset.party, currentTime: v.currentTime, width: v.videoWidth,
      audioBytes: v.webkitAudioDecodedByteCount, paused: v.paused }));
  });
  assert.deepEqual(played.map((p) => p.party), ["booth", "clerk"], JSON.stringify(played));
  for (const p of played) {
    assert.ok(p.currentTime > 0.5 && p.width > 0 && !p.paused, `the ${p.party} view plays: ${JSON.stringify(played)}`);
    assert.ok(p.audioBytes > 0, `the ${p.party} view's voice is decoded: ${JSON.stringify(played)}`);
  }
  await sup.screenshot({ path: join(shots, "supervisor-recording.png") });
  await audit(sup, "the dashboard playing a recording");
});

// Video frames decoded from the stream of one party (`booth`, `clerk`, `guest`) in a page's call.
const decodedFrom = (p, party) => p.evaluate(async (party) => {
  const call = window.xwCall;
  if (!call) return 0;
  const ids = new Set(call.pc.getReceivers().map((r) => r.track).filter((t) => t.kind === "video")
    .filter((t) => [...document.querySelectorAll("video")].some((v) => v.srcObject && v.srcObject.id === party && v.srcObject.getTracks().includes(t)))
    .map((t) => t.id));
  let n = 0;
  (await call.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video" && ids.has(r.trackIdentifier)) n += r.framesDecoded || 0; });
  return n;
}, party);

test("a Chromium clerk invites a second clerk, all three see each other, and hands the call over", async () => {
  const second = await page("/clerk?clerk=clerk-hekou-2&secret=demo", DESKTOP);
  await second.waitForSelector("#idle:not([hidden])");
  const first = await page("/clerk?clerk=clerk-hekou-1&secret=demo", DESKTOP);
  await first.waitForSelector("#idle:not([hidden])");
  await goAvailable(first);
  const booth = await page("/booth?booth=booth-gudao-2&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  await chooseService(booth, "teacher-cert");
  await first.waitForSelector("#offer:not([hidden])");
  await first.click("#accept");
  await waitFor(async () => (await decodedFrom(first, "booth")) > 0 && (await decodedFrom(booth, "clerk")) > 0, "the call is up");

  // 三方通话: the second clerk is invited by id and joins from its idle screen.
  await first.fill("#hand-clerk", "clerk-hekou-2");
  await first.click("#invite");
  await second.waitForSelector("#invitation:not([hidden])");
  assert.match(await second.textContent("#invitation-text"), /王伟/);
  await first.waitForFunction(() => document.querySelector("#hand-status").textContent.includes("已邀请"));
  await audit(second, "the console with an invitation");
  await second.click("#join");
  await second.waitForSelector("#call:not([hidden])");
  assert.equal(await second.isVisible("#hand-on"), false, "a third party cannot hand the call on");
  await waitFor(async () => (await decodedFrom(second, "booth")) > 0 && (await decodedFrom(second, "clerk")) > 0
    && (await decodedFrom(first, "guest")) > 0 && (await decodedFrom(booth, "guest")) > 0, "all three see the other two");
  await second.screenshot({ path: join(shots, "clerk-three-way.png") });
  await audit(second, "the third party's call screen");
  await audit(first, "the call screen with a third party");

  // 转接: the first clerk hands the call to the second and goes into wrap-up.
  await first.click("#transfer");
  await first.waitForSelector("#wrapup:not([hidden])");
  await booth.waitForFunction(() => document.querySelector("#call-clerk").textContent.includes("李磊"));
  await second.waitForFunction(() => document.querySelector("#hangup").textContent.includes("Hang up"));
  assert.equal(await second.isVisible("#hand-on"), true, "the call's clerk now");
  // The booth keeps decoding the clerk's stream, now the second clerk's; the second clerk decodes
  // the booth on its own connection.
  const before = await decodedFrom(booth, "clerk");
  await waitFor(async () => (await decodedFrom(second, "booth")) > 10 && (await decodedFrom(booth, "clerk")) > before + 10,
    "the booth and the second clerk on after the transfer");
  await first.selectOption("#outcome", "referred");
  await first.click("#end-wrapup");
  await second.click("#hangup");
  await second.waitForSelector("#wrapup:not([hidden])");
  await booth.waitForSelector("#rate:not([hidden])");
  await second.selectOption("#outcome", "completed");
  await second.click("#end-wrapup");
  await second.waitForSelector("#idle:not([hidden])");
});
