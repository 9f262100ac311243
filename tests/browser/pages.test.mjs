// Real headless Chromium (Debian's, fake camera) against the real server binary: the booth kiosk
// and clerk console pages complete a call with video decoded both ways, a document snapshot and a
// rating; the supervisor dashboard follows the queue; a Chromium clerk calls the Rust booth-client.
// Screenshots go where harness.mjs says (target/screenshots/ unless asked for docs/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startAll, waitFor, audit, root, shots, KIOSK, DESKTOP, goAvailable, chooseService } from "./harness.mjs";

let env, base, page;
before(async () => {
  // Sample the waiting chart every second so its server-side history shows within the test.
  env = await startAll(["--history-sample-secs", "1"]);
  ({ base, page } = env);
});
after(async () => { await env?.stop(); });

const decoded = (p) => p.evaluate(() => (window.xwCall ? window.xwCall.framesDecoded() : 0));

test("booth and clerk pages: call with video both ways, ID card photo, hang-up, rating", async () => {
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", DESKTOP);
  await clerk.waitForSelector("#idle:not([hidden])");
  await goAvailable(clerk);
  const booth = await page("/booth?booth=booth-gudao-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  await booth.screenshot({ path: join(shots, "booth-pick.png") });
  await chooseService(booth, "teacher-cert");
  await clerk.waitForSelector("#offer:not([hidden])");
  await clerk.screenshot({ path: join(shots, "clerk-offer.png") });
  // The offer rang and asked for (or showed) a browser notification.
  assert.ok(await clerk.evaluate(() => !!(window.xwClerk.notificationAsked || window.xwClerk.lastNotification)), "offer notification");
  await clerk.click("#accept");
  await waitFor(async () => (await decoded(clerk)) > 0 && (await decoded(booth)) > 0, "video decoded on both pages");
  // The offer's context stays on the call screen; Away is not offered during a call.
  assert.match(await clerk.textContent("#call-service"), /教师资格认定确认/);
  assert.match(await clerk.textContent("#call-detail"), /孤岛镇/);
  assert.equal(await clerk.$eval("#go-away", (b) => b.disabled), true, "no Away during a call");
  await clerk.fill("#call-notes", "缺户口本首页");
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
  // With the document open, hang-up and chat are still on the 1920×1080 screen.
  for (const sel of ["#hangup", "#chat-send", "#doc-accept"]) {
    const box = await clerk.$eval(sel, (e) => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; });
    assert.ok(box[0] >= 0 && box[1] <= 1080, `${sel} in view with a document open: ${box}`);
  }
  await audit(clerk, "clerk: call with a document");
  // Zoom and rotate the full view.
  await clerk.click("#zoom-in");
  await clerk.click("#rotate");
  assert.deepEqual(await clerk.$eval("#full", (img) => [img.style.width, img.style.transform]), ["125%", "rotate(90deg)"]);
  const [frame, image] = await clerk.$eval("#full", (img) => [img.parentElement.clientWidth, img.offsetWidth]);
  assert.ok(image > frame, `zoomed wider than its frame (${image} > ${frame}), which scrolls`);
  await clerk.click("#zoom-out");
  await clerk.click("#rotate"); await clerk.click("#rotate"); await clerk.click("#rotate");
  await audit(booth, "booth: call with a photo to send");
  await clerk.click("#doc-accept");
  await booth.waitForFunction(() => document.querySelector("#doc-request").textContent.includes("accepted"));
  // The clerk hangs up; the booth rates; the clerk wraps up and is available again.
  await clerk.click("#hangup");
  await booth.waitForSelector("#rate:not([hidden])");
  // The receipt: the case (办件) number and its QR code.
  assert.match(await booth.textContent("#receipt"), /办件编号 \d+-\d+/);
  await booth.waitForFunction(() => { const q = document.querySelector("#receipt-qr"); return !q.hidden && q.complete && q.naturalWidth > 0; });
  // A wrong tap is corrected before the rating is sent; the corrected choice is what is recorded.
  await booth.click('button[data-rating="dissatisfied"]');
  await booth.waitForSelector('#rate-reasons:not([hidden]) button[data-reason="long_wait"]');
  await audit(booth, "booth: why not satisfied");
  await booth.click('button[data-rating="very_satisfied"]');
  assert.equal(await booth.isHidden("#rate-reasons"), true, "no reason asked for a good rating");
  assert.match(await booth.textContent("#rate-done"), /改选/);
  await booth.click("#rate-confirm");
  await booth.waitForFunction(() => document.querySelector("#rate-done").textContent.includes("Thank you"));
  await booth.screenshot({ path: join(shots, "booth-rating.png") });
  await audit(booth, "booth: rating");
  // Wrap-up: an outcome must be chosen; outcome and note are stored as the case (办件) record,
  // which the console lists with the citizen's rating.
  await clerk.waitForSelector("#wrapup:not([hidden])");
  assert.equal(await clerk.inputValue("#note"), "缺户口本首页", "the call's notes carried into wrap-up");
  assert.match(await clerk.textContent("#wrapup-countdown"), /Ends by itself in \d+ s/);
  await clerk.click("#end-wrapup");
  assert.match(await clerk.textContent("#wrapup-error"), /Choose an outcome/);
  await clerk.selectOption("#outcome", "missing_documents");
  await clerk.fill("#note", "缺户口本首页，已告知群众补交");
  await clerk.screenshot({ path: join(shots, "clerk-wrapup.png") });
  await audit(clerk, "clerk: wrap-up");
  // Pressing Available instead of Done records what was entered (never `not_recorded`).
  await goAvailable(clerk);
  await clerk.waitForFunction(() => document.querySelector("#case-saved").textContent.includes("材料不全"));
  const row = await clerk.waitForSelector("#cases tr");
  const cells = await row.$$eval("td", (tds) => tds.map((td) => td.textContent));
  assert.deepEqual(cells.slice(1), ["教师资格认定确认", "材料不全 Missing documents", "非常满意", "缺户口本首页，已告知群众补交", "播放 · Play"]);
  assert.match(await clerk.textContent("#day"), /今日办件 1 件/);
  await booth.context().close(); await clerk.context().close();
});

test("supervisor dashboard: the waiting count rises when a booth queues and falls when it is served", async () => {
  const sup = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  // The case wrapped up in the call test above is listed, with its outcome and rating.
  await sup.waitForFunction(() => [...document.querySelectorAll("#cases tr")].some((tr) => tr.textContent.includes("材料不全") && tr.textContent.includes("非常满意")));
  const waiting = () => sup.evaluate(() => Number(document.querySelector("#total").dataset.waiting ?? -1));
  await waitFor(async () => (await waiting()) === 0, "an empty queue");
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", DESKTOP);
  await clerk.waitForSelector("#idle:not([hidden])"); // signed in, away: the ticket waits
  await clerk.click("#go-away");
  const booth = await page("/booth?booth=booth-gudao-2&secret=demo", KIOSK);
  await chooseService(booth, "teacher-cert");
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
  // Answered well within the 60 s target: the grid's service level is 100 % (today's answers).
  await sup.waitForFunction(() => [...document.querySelectorAll("#rows tr")].some((tr) => /100% \(\d+\/\d+\)/.test(tr.textContent)));
  await sup.waitForFunction(() => document.querySelector('tr[data-clerk="clerk-hekou-1"] .state').textContent.includes("In call"));
  await clerk.click("#hangup");
  // The clerk finishes the wrap-up before leaving (a clerk back within the 15 s reconnect grace
  // would otherwise find the wrap-up still open, as a returning clerk should).
  await clerk.waitForSelector("#wrapup:not([hidden])");
  await clerk.selectOption("#outcome", "completed");
  await clerk.click("#end-wrapup");
  await clerk.waitForFunction(() => document.querySelector("#state").textContent.includes("Available"));
  // A dashboard opened now draws the last hour from the server's samples: the rise and the fall.
  const late = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  const points = await waitFor(async () => {
    const p = await late.evaluate(() => window.xwHistory && window.xwHistory.length > 1 ? window.xwHistory.map((h) => h[1]) : null);
    return p;
  }, "the chart's history");
  assert.ok(points.includes(1), `history has the waiting ticket: ${points}`);
  assert.equal(points.at(-1), 0);
  await late.screenshot({ path: join(shots, "supervisor-history.png") });
  for (const p of [sup, clerk, booth, late]) await p.context().close();
});

test("a Chromium clerk page and the Rust booth-client complete a call with video decoded both ways", async () => {
  const clerk = await page("/clerk?clerk=clerk-hekou-1&secret=demo", DESKTOP);
  await clerk.waitForSelector("#idle:not([hidden])");
  await goAvailable(clerk);
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
  // …and decoded them with libvpx: Chromium's fake camera picture, real content, no errors.
  const d = summary.media.decoded;
  assert.ok(summary.frames_decoded > 10, `the Rust booth decoded ${summary.frames_decoded} frames: ${JSON.stringify(summary.media)}`);
  assert.ok(d.width >= 320 && d.height >= 180, `decoded picture ${d.width}×${d.height}`);
  // Chromium's fake camera draws a figure that grows and shrinks on black: the last picture may
  // be nearly black, so the brightest one says whether real content came.
  assert.ok(d.luma_max > 16 && d.luma_max < 235, `brightest decoded picture's mean luma ${d.luma_max}`);
  await clerk.context().close();
});
