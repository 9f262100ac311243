// The kiosk as a 70-year-old villager meets it, in real headless Chromium against the real server:
// the start screen fits one 1080×1920 screen in normal and in large text (most used items, then
// categories that open their items), large text does not tick priority by itself, the 帮办 button
// asks for a helper, the call screen has quick replies instead of a text field (the kiosk has no
// keyboard), and a finished screen goes back to the start by itself.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startAll, audit, KIOSK } from "./harness.mjs";

let env, page;
before(async () => {
  env = await startAll();
  ({ page } = env);
});
after(async () => { await env?.stop(); });

const fitsVertically = (p) => p.evaluate(() => [document.documentElement.scrollHeight, window.innerHeight]);

test("the start screen fits one 1080×1920 screen, in large text too, and large text leaves priority alone", async () => {
  const booth = await page("/booth?booth=booth-yihe-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  let [content, screen] = await fitsVertically(booth);
  assert.ok(content <= screen, `normal text: ${content}px of content on a ${screen}px screen`);
  await booth.click("#elderly");
  [content, screen] = await fitsVertically(booth);
  assert.ok(content <= screen, `large text: ${content}px of content on a ${screen}px screen`);
  assert.equal(await booth.isChecked("#priority"), false, "large text does not tick priority");
  // A category opens its items, and the way back.
  await booth.click('button[data-category="市场主体"]');
  await booth.waitForSelector('#category:not([hidden]) button[data-service="business-reg"]');
  [content, screen] = await fitsVertically(booth);
  assert.ok(content <= screen, `a category in large text: ${content}px on ${screen}px`);
  await audit(booth, "kiosk: a category's items");
  await booth.click("#category-back");
  await booth.waitForSelector("#pick:not([hidden])");
});

test("the 帮办 button asks for a helper; a finished screen goes back to the start by itself", async () => {
  const booth = await page("/booth?booth=booth-xianhe-1&secret=demo&idle=2", KIOSK);
  await booth.waitForSelector("#assist:not([hidden])");
  await booth.click("#assist");
  // No helper is signed in on this server: the ticket is closed at once, with the reason.
  await booth.waitForSelector("#closed:not([hidden])");
  assert.match(await booth.textContent("#q-service"), /帮办/);
  // Nobody touches the screen: back to the start after the idle time (2 s here, 30 s by default).
  await booth.waitForSelector("#pick:not([hidden])", { timeout: 10000 });
});

test("the QR code of a receipt is drawn by the server", async () => {
  const r = await fetch(`${env.base}/api/qr?text=${encodeURIComponent("xiaowu-case:7-1")}`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /image\/svg\+xml/);
  assert.match(await r.text(), /<svg/);
  assert.equal((await fetch(`${env.base}/api/qr?text=${"x".repeat(65)}`)).status, 400, "long text refused");
});

test("the call screen offers quick replies, not a field that needs a keyboard", async () => {
  const booth = await page("/booth?booth=booth-xinhu-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  const [inputs, replies] = await booth.evaluate(() => [
    document.querySelectorAll("#call input, #call textarea").length,
    [...document.querySelectorAll("#quick-replies button")].map((b) => b.textContent),
  ]);
  assert.equal(inputs, 0, "no text field on the call screen");
  assert.ok(replies.includes("好的") && replies.length >= 4, `quick replies: ${replies}`);
});
