// Calls through the media relay in real Chromium: the kiosk says the call is recorded; a
// supervisor's dashboard lists the live call and monitors it — both sides' video decoded in the
// supervisor's page while the Chromium booth and the Rust clerk go on — and another city's
// supervisor does not see it; the finished recording plays from the dashboard's recent cases.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startAll, waitFor, audit, root, shots, KIOSK, DESKTOP, chooseService } from "./harness.mjs";

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
  // The recording, once indexed, plays from the dashboard's recent cases: time advances, the
  // picture has a size.
  await waitFor(async () => {
    await sup.reload();
    await sup.waitForSelector("#dashboard:not([hidden])");
    return sup.waitForSelector(`#cases button[data-recording="${call}"]`, { timeout: 3000 }).then(() => true, () => false);
  }, "the case with its recording button", 30000);
  await waitFor(async () => {
    await sup.click(`#cases button[data-recording="${call}"]`);
    return sup.evaluate(() => !!document.getElementById("player-video")?.src);
  }, "the recording loaded");
  const played = await sup.evaluate(async () => {
    const v = document.getElementById("player-video");
    v.muted = true;
    await v.play();
    await new Promise((res) => setTimeout(res, 1500));
    return { currentTime: v.currentTime, width: v.videoWidth, duration: v.duration };
  });
  assert.ok(played.currentTime > 0.5 && played.width > 0, `the recording plays: ${JSON.stringify(played)}`);
  await sup.screenshot({ path: join(shots, "supervisor-recording.png") });
  await audit(sup, "the dashboard playing a recording");
});
