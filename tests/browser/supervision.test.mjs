// The dashboard's planning views in real Chromium: after a served call (Rust booth-client and
// agent-console), today's report shows it with the figures, lines, formulas and the clerk's time,
// next week's staffing
// advice has its hour, the alert list is there (no alert: all clear), the idle queues are folded;
// the page passes axe and fits a 1920×1080 wall screen.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startAll, waitFor, audit, root, shots, DESKTOP, KIOSK, fits } from "./harness.mjs";

let env, base, page;
before(async () => { env = await startAll(); ({ base, page } = env); });
after(async () => { await env?.stop(); });

const run = (bin, args) => new Promise((res) => {
  let out = "";
  const p = spawn(join(root, "target/debug", bin), ["--server", base, "--json", ...args]);
  p.stdout.on("data", (d) => { out += d; });
  p.stderr.on("data", (d) => process.stderr.write(d));
  p.on("exit", (code) => res({ code, out }));
});

test("the dashboard reports today's call, plans next week and lists alerts", async () => {
  const clerk = run("agent-console", ["--clerk", "clerk-hekou-1", "--secret", "demo", "--auto-accept", "--hold", "1", "--timeout", "60"]);
  await new Promise((r) => setTimeout(r, 1500));
  const booth = await run("booth-client", ["--booth", "booth-gudao-1", "--secret", "demo", "--service", "teacher-cert", "--timeout", "60"]);
  assert.equal(booth.code, 0, booth.out);
  assert.equal((await clerk).code, 0);

  const sup = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  await sup.waitForSelector("#dashboard:not([hidden])");
  await sup.waitForSelector("#alerts-none:not([hidden])");
  // The booth that was served and left is listed offline, first.
  await sup.waitForSelector('#booths tr[data-booth="booth-gudao-1"][data-online="false"]');
  assert.equal(await sup.getAttribute("#booths tr:first-child", "data-booth"), "booth-gudao-1");
  assert.equal(await sup.locator("#alerts li").count(), 0, "all clear");
  await waitFor(async () => /idle queues folded/.test(await sup.textContent("#folded")), "idle queues folded");

  // Today's report: the call's hall and item with the figures, and the formulas.
  await waitFor(async () => {
    await sup.click("#report-form button");
    await new Promise((r) => setTimeout(r, 300));
    return (await sup.locator("#report-rows tr").count()) > 0;
  }, "today's report");
  const row = await sup.textContent("#report-rows tr");
  assert.match(row, /hekou · teacher-cert/);
  assert.match(row, /100%/, "answered within target");
  assert.match(await sup.textContent("#formulas"), /service_level/);
  assert.ok((await sup.locator("#report-bars rect").count()) >= 1, "a bar per period");
  assert.equal(await sup.locator("#report-lines polyline").count(), 2, "service level and answered share lines");
  assert.match(await sup.textContent("#report-lines title"), /100%/);
  // Each clerk's time: the clerk finished the call.
  await sup.waitForSelector('#clerk-report-rows tr:has-text("clerk-hekou-1")');
  const clerkRow = await sup.textContent('#clerk-report-rows tr:has-text("clerk-hekou-1")');
  assert.match(clerkRow, /clerk-hekou-1\s*hekou\s*1/, clerkRow);

  // Next week's plan: the hour of this call needs a clerk.
  await sup.click("#staffing-form button");
  await sup.waitForSelector("#staffing-rows tr");
  const plan = await sup.textContent("#staffing-rows");
  assert.match(plan, /hekou.*teacher-cert/s);
  await sup.screenshot({ path: join(shots, "supervisor-planning.png"), fullPage: true });
  await audit(sup, "the dashboard's report and staffing views");
  await fits(sup, "the dashboard at 1920×1080");
});

test("a province supervisor's grid rolls up by city", async () => {
  // Clerks of two cities signed in: their queues show; the city supervisor sees no roll-up, the
  // province's sees one row per city.
  for (const clerk of ["clerk-hekou-3", "clerk-bincheng-1"]) {
    const c = await page(`/clerk?clerk=${clerk}&secret=demo`, DESKTOP);
    await c.waitForSelector("#idle:not([hidden])");
  }
  const city = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  await city.waitForSelector("#rows tr");
  assert.equal(await city.isVisible("#by-city"), false, "one city: no roll-up");
  const province = await page("/supervisor?id=sup-shandong&secret=demo", DESKTOP);
  await province.waitForSelector("#by-city:not([hidden])");
  await waitFor(async () => (await province.locator("#cities tr").count()) >= 2, "a row per city");
  assert.ok(await province.locator('#cities tr[data-city="dongying"]').count() === 1);
  assert.ok(await province.locator('#cities tr[data-city="binzhou"]').count() === 1);
  await audit(province, "the province's dashboard");
});

test("a kiosk reports its camera; one it cannot open is shown and raises an alert", async () => {
  const sup = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  await sup.waitForSelector("#dashboard:not([hidden])");
  const kiosk = await page("/booth?booth=booth-xianhe-1&secret=demo", KIOSK);
  // Chromium's fake camera opens: the booth's row says so.
  await sup.waitForSelector('#booths tr[data-booth="booth-xianhe-1"][data-camera="ok"]');
  assert.equal(await kiosk.isVisible("#device-problem"), false);
  // The camera is taken away (as a driver crash or a revoked permission would): the kiosk
  // finds out at the next device change, tells the citizen and the server.
  await kiosk.evaluate(() => {
    const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = (c) => (c && c.video
      ? Promise.reject(new DOMException("denied", "NotAllowedError")) : real(c));
    navigator.mediaDevices.dispatchEvent(new Event("devicechange"));
  });
  await kiosk.waitForSelector("#device-problem:not([hidden])");
  assert.match(await kiosk.textContent("#device-problem"), /摄像头无法使用/);
  await sup.waitForSelector('#booths tr[data-booth="booth-xianhe-1"][data-camera="denied"]');
  await waitFor(async () => /camera access denied/.test(await sup.textContent("#alerts")), "the device alert");
  // The day's alert history has it too.
  await waitFor(async () => {
    await sup.click("#report-form button");
    await new Promise((r) => setTimeout(r, 300));
    return (await sup.locator('#alert-history tr[data-event="raised"][data-kind="booth_device"]').count()) > 0;
  }, "the alert in the history");
  await audit(sup, "the dashboard with a device alert");
});
