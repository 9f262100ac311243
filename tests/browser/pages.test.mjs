// Real headless Chromium (Debian's, fake camera) against the real server binary: the booth kiosk
// and clerk console pages complete a call with video decoded both ways, a document snapshot and a
// rating; the supervisor dashboard follows the queue; a Chromium clerk calls the Rust booth-client.
// Screenshots go to docs/screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const shots = join(root, "docs/screenshots");
mkdirSync(shots, { recursive: true });
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection"];

let server, base, browser;

const freePort = () => new Promise((res) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
const waitFor = async (fn, what, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) { const v = await fn(); if (v) return v; if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await new Promise((r) => setTimeout(r, 200)); }
};

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const cwd = mkdtempSync(join(tmpdir(), "xiaowu-browser-")); // documents land here
  server = spawn(join(root, "target/debug/signaling-server"), ["--listen", `127.0.0.1:${port}`], { cwd, env: { ...process.env, RUST_LOG: "warn" }, stdio: "inherit" });
  await waitFor(async () => { try { return (await fetch(`${base}/healthz`)).ok; } catch { return false; } }, "the server");
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: FLAGS, headless: true });
});

after(async () => { await browser?.close(); server?.kill(); });

async function page(path, viewport) {
  const ctx = await browser.newContext({ viewport, permissions: ["camera", "microphone"] });
  const p = await ctx.newPage();
  p.on("pageerror", (e) => console.error(`page error on ${path}:`, e.message));
  await p.goto(`${base}${path}`);
  return p;
}

const decoded = (p) => p.evaluate(() => (window.xwCall ? window.xwCall.framesDecoded() : 0));

test("booth and clerk pages: call with video both ways, ID card photo, hang-up, rating", async () => {
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", { width: 1920, height: 1080 });
  await clerk.waitForSelector("#idle:not([hidden])");
  await clerk.click("#go-available");
  await clerk.waitForFunction(() => document.querySelector("#state").textContent.includes("Available"));
  const booth = await page("/booth?booth=booth-gudao-1&secret=demo", { width: 1080, height: 1920 });
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  await booth.screenshot({ path: join(shots, "booth-pick.png") });
  await booth.click('button[data-service="teacher-cert"]');
  await clerk.waitForSelector("#offer:not([hidden])");
  await clerk.screenshot({ path: join(shots, "clerk-offer.png") });
  await clerk.click("#accept");
  await waitFor(async () => (await decoded(clerk)) > 0 && (await decoded(booth)) > 0, "video decoded on both pages");
  // Document: the clerk asks for the ID card; the booth snaps the (fake) camera and sends it.
  await clerk.selectOption("#doc-type", "id_front");
  await clerk.click("#request-doc");
  await booth.waitForSelector("#doc-request:not([hidden])");
  assert.match(await booth.textContent("#doc-request"), /身份证正面/);
  await booth.click("#snap");
  await booth.screenshot({ path: join(shots, "booth-call-document.png") });
  await booth.click("#send");
  await clerk.waitForSelector("#thumbs img");
  await clerk.waitForSelector("#viewer:not([hidden])");
  await clerk.waitForFunction(() => document.querySelector("#full").naturalWidth > 0);
  await clerk.screenshot({ path: join(shots, "clerk-call-document.png") });
  await clerk.click("#doc-accept");
  await booth.waitForFunction(() => document.querySelector("#doc-request").textContent.includes("accepted"));
  // The clerk hangs up; the booth rates; the clerk wraps up and is available again.
  await clerk.click("#hangup");
  await booth.waitForSelector("#rate:not([hidden])");
  await booth.click('button[data-rating="very_satisfied"]');
  await booth.waitForFunction(() => document.querySelector("#rate-done").textContent.includes("Thank you"));
  await booth.screenshot({ path: join(shots, "booth-rating.png") });
  await clerk.waitForSelector("#wrapup:not([hidden])");
  await clerk.click("#end-wrapup");
  await clerk.waitForFunction(() => document.querySelector("#state").textContent.includes("Available"));
  await booth.context().close(); await clerk.context().close();
});

test("supervisor dashboard: the waiting count rises when a booth queues and falls when it is served", async () => {
  const sup = await page("/supervisor?id=sup-dongying&secret=demo", { width: 1920, height: 1080 });
  const waiting = () => sup.evaluate(() => Number(document.querySelector("#total").dataset.waiting ?? -1));
  await waitFor(async () => (await waiting()) === 0, "an empty queue");
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", { width: 1920, height: 1080 });
  await clerk.waitForSelector("#idle:not([hidden])"); // signed in, away: the ticket waits
  await clerk.click("#go-away");
  const booth = await page("/booth?booth=booth-gudao-2&secret=demo", { width: 1080, height: 1920 });
  await booth.click('button[data-service="teacher-cert"]');
  await waitFor(async () => (await waiting()) === 1, "one waiting");
  await booth.waitForSelector("#queue:not([hidden])");
  await booth.screenshot({ path: join(shots, "booth-queue.png") });
  await sup.screenshot({ path: join(shots, "supervisor.png") });
  // The supervisor forces the clerk back to available from the clerk list; the offer follows.
  await sup.waitForSelector('tr[data-clerk="clerk-hekou-1"] button[data-force="available"]');
  await sup.click('tr[data-clerk="clerk-hekou-1"] button[data-force="available"]');
  await clerk.waitForSelector("#offer:not([hidden])");
  await clerk.click("#accept");
  await waitFor(async () => (await waiting()) === 0, "served");
  await sup.waitForFunction(() => document.querySelector('tr[data-clerk="clerk-hekou-1"] .state').textContent.includes("In call"));
  await clerk.click("#hangup");
  for (const p of [sup, clerk, booth]) await p.context().close();
});

test("a Chromium clerk page and the Rust booth-client complete a call with video both ways", async () => {
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", { width: 1920, height: 1080 });
  await clerk.waitForSelector("#idle:not([hidden])");
  await clerk.click("#go-available");
  await clerk.waitForFunction(() => document.querySelector("#state").textContent.includes("Available"));
  const rust = spawn(join(root, "target/debug/booth-client"), ["--server", base, "--booth", "booth-xianhe-1", "--service", "teacher-cert", "--secret", "demo", "--hold", "4", "--json", "--timeout", "40"]);
  let out = "";
  rust.stdout.on("data", (d) => { out += d; });
  rust.stderr.on("data", (d) => process.stderr.write(d));
  await clerk.waitForSelector("#offer:not([hidden])").catch((e) => { console.error("booth-client said:", out); throw e; });
  await clerk.click("#accept");
  await waitFor(async () => (await decoded(clerk)) > 10, "the clerk page decoding the Rust booth's video");
  await new Promise((res) => rust.on("exit", res));
  const summary = JSON.parse(out.trim().split("\n").pop());
  assert.equal(summary.outcome, "served");
  assert.ok(summary.frames_received > 10, `the Rust booth received ${summary.frames_received} frames`);
  await clerk.context().close();
});
