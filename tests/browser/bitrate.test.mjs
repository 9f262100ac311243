// The relay's bitrate limit reaches a real browser: with `[media] max_bitrate_kbps = 150`, below
// the 300 kb/s a browser's own bandwidth estimate starts from, the Chromium booth's estimate of
// what it may send (`availableOutgoingBitrate` of its selected candidate pair) comes down to the
// limit the relay sends it (REMB) — and its video still reaches the clerk.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAll, waitFor, root, KIOSK, DESKTOP, chooseService, goAvailable } from "./harness.mjs";

const CAP_KBPS = 150;
let env;
before(async () => {
  const config = join(mkdtempSync(join(tmpdir(), "xiaowu-bitrate-")), "xiaowu.toml");
  const demo = readFileSync(join(root, "signaling-server/config/demo.toml"), "utf8");
  writeFileSync(config, `${demo}\n[media]\nmax_bitrate_kbps = ${CAP_KBPS}\n`);
  env = await startAll(["--config", config]);
});
after(async () => { await env?.stop(); });

// The browser's current estimate of what it may send, bits per second (0 before there is one).
const available = (p) => p.evaluate(async () => {
  const call = window.xwCall;
  if (!call) return 0;
  let bps = 0;
  (await call.pc.getStats()).forEach((r) => {
    if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded" && r.availableOutgoingBitrate) bps = r.availableOutgoingBitrate;
  });
  return bps;
});
const framesDecoded = (p) => p.evaluate(async () => {
  const call = window.xwCall;
  if (!call) return 0;
  let n = 0;
  (await call.pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") n += r.framesDecoded || 0; });
  return n;
});

test("a Chromium booth keeps under the relay's bitrate limit", async () => {
  const { page } = env;
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", DESKTOP);
  await clerk.waitForSelector("#idle:not([hidden])");
  await goAvailable(clerk);
  const booth = await page("/booth?booth=booth-gudao-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  await chooseService(booth, "teacher-cert");
  await clerk.waitForSelector("#offer:not([hidden])");
  await clerk.click("#accept");
  await waitFor(async () => (await framesDecoded(clerk)) > 0, "the clerk sees the booth");
  const seen = [];
  await waitFor(async () => {
    const bps = await available(booth);
    if (bps) seen.push(Math.round(bps));
    return bps > 0 && bps <= CAP_KBPS * 1000 * 1.05;
  }, `the booth's estimate down to ${CAP_KBPS} kb/s`, 30000);
  // It stays there, and the picture keeps coming.
  const before = await framesDecoded(clerk);
  await new Promise((r) => setTimeout(r, 3000));
  const bps = await available(booth);
  assert.ok(bps > 0 && bps <= CAP_KBPS * 1000 * 1.05, `still under the limit: ${bps} (seen ${seen.join(", ")})`);
  assert.ok((await framesDecoded(clerk)) > before + 10, "the booth's video goes on at the lower rate");
  await clerk.click("#hangup");
});
