// Accessibility and layout of the three pages in real headless Chromium: axe-core (WCAG 2.1 A/AA
// rules: labels, names, contrast, landmarks, language…) finds no violation in each screen; the
// kiosk works from the keyboard with a visible focus ring; elderly mode enlarges the text and the
// English toggle switches the language; a dropped kiosk connection reconnects keeping the ticket
// and says so; nothing scrolls sideways at 1080×1920 (kiosk) or
// 1920×1080 (clerk, supervisor); the "no clerk available" screen states its reason.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startAll, waitFor, audit, fits, shots, KIOSK, DESKTOP, chooseService } from "./harness.mjs";

let env, page;
before(async () => { env = await startAll(); ({ page } = env); });
after(async () => { await env?.stop(); });

/** Tabs until `selector` has the focus; returns the focused element's outline as drawn. */
async function tabTo(p, selector, max = 40) {
  for (let i = 0; i < max; i++) {
    await p.keyboard.press("Tab");
    if (await p.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) {
      return p.evaluate(() => { const cs = getComputedStyle(document.activeElement); return { style: cs.outlineStyle, width: parseFloat(cs.outlineWidth) }; });
    }
  }
  throw new Error(`Tab never reached ${selector}`);
}

test("booth kiosk: axe-clean, keyboard-operable, elderly mode, English, clear 'no clerk' screen", async () => {
  const booth = await page("/booth?booth=booth-yihe-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  await audit(booth, "booth: pick a service");
  await fits(booth, "booth");

  // Elderly mode: larger text everywhere, the switch says it is on; priority stays the citizen's
  // own choice (not ticked by the text size).
  const tileSize = () => booth.$eval('button[data-service="teacher-cert"]', (b) => parseFloat(getComputedStyle(b).fontSize));
  const before = await tileSize();
  await booth.click("#elderly");
  assert.ok((await tileSize()) >= before * 1.3, `elderly mode enlarges text: ${before} → ${await tileSize()}`);
  assert.equal(await booth.getAttribute("#elderly", "aria-pressed"), "true");
  assert.equal(await booth.isChecked("#priority"), false);
  await fits(booth, "booth in elderly mode");
  await audit(booth, "booth: elderly mode");
  await booth.screenshot({ path: join(shots, "booth-elderly.png") });
  await booth.click("#elderly");

  // English: the page language and the tiles' first line switch, and back.
  await booth.click("#lang");
  assert.equal(await booth.evaluate(() => document.documentElement.lang), "en");
  const first = () => booth.$eval('button[data-service="teacher-cert"] span:not(.icon)', (s) => s.firstChild.textContent);
  assert.match(await first(), /^[A-Za-z]/);
  await audit(booth, "booth: English");
  await booth.click("#lang");
  assert.equal(await booth.evaluate(() => document.documentElement.lang), "zh-CN");
  assert.match(await first(), /^[\u4e00-\u9fff]/);

  // Keyboard only: Tab to the service tile (a focus ring is drawn) and press Enter. No clerk of
  // this service is signed in, so the kiosk says so, with the reason, and offers a way back.
  const ring = await tabTo(booth, 'button[data-service="teacher-cert"]');
  assert.ok(ring.style !== "none" && ring.width >= 2, `visible focus ring: ${JSON.stringify(ring)}`);
  await booth.keyboard.press("Enter");
  // The documents the item needs, before queuing; "Queue now" has the focus.
  await booth.waitForSelector("#materials:not([hidden])");
  assert.match(await booth.textContent("#materials-list"), /毕业证书/);
  await audit(booth, "booth: the documents to have at hand");
  await booth.keyboard.press("Enter");
  await booth.waitForSelector("#closed:not([hidden])");
  assert.match(await booth.textContent("#closed-reason"), /^[\u4e00-\u9fff]/);
  assert.match(await booth.textContent("#closed-reason-en"), /^[A-Za-z]/);
  await audit(booth, "booth: no clerk available");
  await booth.screenshot({ path: join(shots, "booth-no-clerk.png") });
  await booth.context().close();
});

test("booth queue screen and clerk console: axe-clean, keyboard sign-in, fit 1920×1080", async () => {
  const clerk = await page("/clerk", DESKTOP);
  await clerk.waitForSelector("#signin:not([hidden])");
  await audit(clerk, "clerk: sign in");
  // Sign in from the keyboard alone.
  await tabTo(clerk, "#clerk-id");
  await clerk.keyboard.type("clerk-hekou-1");
  await clerk.keyboard.press("Tab");
  await clerk.keyboard.type("demo");
  await clerk.keyboard.press("Enter");
  await clerk.waitForSelector("#idle:not([hidden])");
  await clerk.waitForSelector("#recent:not([hidden])");
  await audit(clerk, "clerk: idle with recent cases");
  await fits(clerk, "clerk");

  // The clerk stays away, so a booth's ticket waits: the queue screen.
  const booth = await page("/booth?booth=booth-xianhe-2&secret=demo", KIOSK);
  await chooseService(booth, "teacher-cert");
  await booth.waitForSelector("#queue:not([hidden])");
  await waitFor(() => booth.evaluate(() => document.querySelector("#q-status").textContent.length > 0), "queue status");
  // Every clerk of the service is away: the kiosk says what is happening, and the wait goes on.
  assert.match(await booth.textContent("#q-status"), /工作人员暂时都不在座位上/);
  await waitFor(async () => /已等待/.test(await booth.textContent("#q-elapsed")), "the time waited");
  await audit(booth, "booth: queue");
  await fits(booth, "booth queue");

  // The kiosk's connection drops: it says it is reconnecting, comes back with the same ticket and
  // says the place in the queue was kept.
  const ticket = await booth.textContent("#q-ticket");
  await booth.evaluate(() => S.session.ws.close());
  await booth.waitForSelector("#net:not([hidden])");
  await booth.waitForSelector("#net", { state: "hidden" });
  await booth.waitForFunction(() => document.querySelector("#q-status").textContent.includes("排队位置已保留"));
  assert.equal(await booth.textContent("#q-ticket"), ticket);

  // The offer screen when the clerk goes available.
  await clerk.click("#go-available");
  await clerk.waitForSelector("#offer:not([hidden])");
  await audit(clerk, "clerk: offer");
  await clerk.click("#decline");
  await booth.click("#cancel");
  for (const p of [clerk, booth]) await p.context().close();
});

test("supervisor dashboard: axe-clean and fits 1920×1080", async () => {
  // A signed-in clerk gives the grid and the clerk list rows (with their buttons) to check.
  const clerk = await page("/clerk?clerk=clerk-hekou-2&secret=demo", DESKTOP);
  await clerk.waitForSelector("#idle:not([hidden])");
  const sup = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  await sup.waitForSelector("#rows tr");
  await sup.waitForSelector('tr[data-clerk="clerk-hekou-2"] button');
  await audit(sup, "supervisor");
  await fits(sup, "supervisor");
  for (const p of [sup, clerk]) await p.context().close();
});
