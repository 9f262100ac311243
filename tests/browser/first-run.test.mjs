// The pages on first use and after a restart, in real headless Chromium against the real server:
// no page signs in with a built-in account; a kiosk is set up once (from its URL) and remembers it;
// a wrong secret is said plainly in Chinese; the supervisor page shows its sign-in error; and the
// kiosk, the console and the dashboard come back by themselves after the server restarts — even
// when the restart made their tokens invalid.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startAll, waitFor, audit, KIOSK, DESKTOP, goAvailable, chooseService } from "./harness.mjs";

let env, base, page;
before(async () => {
  env = await startAll();
  ({ base, page } = env);
});
after(async () => { await env?.stop(); });

const visible = (p, sel) => p.evaluate((s) => { const e = document.querySelector(s); return !!e && !e.closest("[hidden]"); }, sel);

test("a kiosk never set up shows the set-up screen, not a built-in booth", async () => {
  const booth = await page("/booth", KIOSK);
  await booth.waitForSelector("#setup:not([hidden])");
  assert.match(await booth.textContent("#setup-problem"), /尚未设置/);
  assert.equal(await visible(booth, "#groups"), false, "no service list without an account");
  assert.equal(await booth.evaluate(() => window.xwBooth), undefined, "nobody signed in");
  await audit(booth, "kiosk set-up screen");
});

test("a wrong secret is said in large Chinese; a right one sets the kiosk up with a token of its own", async () => {
  const wrong = await page("/booth?booth=booth-gudao-2&secret=wrong", KIOSK);
  await wrong.waitForSelector("#setup:not([hidden])");
  assert.match(await wrong.textContent("#setup-problem"), /不正确/);
  const fontSize = await wrong.evaluate(() => parseFloat(getComputedStyle(document.querySelector("#setup-problem")).fontSize));
  assert.ok(fontSize >= 32, `the problem is in large type (${fontSize}px)`);

  const booth = await page("/booth?booth=booth-yongan-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  assert.ok(!booth.url().includes("secret="), `the secret left the address bar: ${booth.url()}`);
  // What the kiosk keeps is a device token of its own, never the booth's secret.
  const kept = await booth.evaluate(() => JSON.parse(localStorage.getItem("xiaowu.booth")));
  assert.ok(kept.device_token && !("secret" in kept) && !JSON.stringify(kept).includes("demo"), JSON.stringify(kept));
  // Reopened later without anything in the URL (a reboot of the kiosk): the same booth.
  await booth.goto(`${base}/booth`);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  assert.match(await booth.textContent("#title"), /永安/);
});

test("the supervisor page asks to sign in and shows a refusal instead of a blank dashboard", async () => {
  const sup = await page("/supervisor", DESKTOP);
  await sup.waitForSelector("#signin-form");
  assert.equal(await visible(sup, "#dashboard"), false);
  await sup.fill("#sup-id", "sup-dongying");
  await sup.fill("#sup-secret", "wrong");
  await sup.click("#signin-form button");
  await sup.waitForSelector("#signin-error:not([hidden])");
  assert.match(await sup.textContent("#signin-error"), /密码|账号|secret|account/i);
  await audit(sup, "supervisor sign-in with an error");
  await sup.fill("#sup-secret", "demo");
  await sup.click("#signin-form button");
  await sup.waitForSelector("#dashboard:not([hidden])");
});

test("kiosk, console and dashboard come back by themselves after the server restarts", async () => {
  const booth = await page("/booth?booth=booth-xinhu-1&secret=demo", KIOSK);
  await booth.waitForSelector('button[data-service="teacher-cert"]');
  const clerk = await page("/clerk?clerk=clerk-hekou-2&secret=demo", DESKTOP);
  await clerk.waitForSelector("#idle:not([hidden])");
  const sup = await page("/supervisor?id=sup-dongying&secret=demo", DESKTOP);
  await sup.waitForSelector("#dashboard:not([hidden])");
  const welcomes = (p, who) => p.evaluate((w) => {
    const s = w === "booth" ? window.xwBooth.session : window.xwClerk.session;
    return s && s.ws && s.ws.readyState === 1;
  }, who);
  // A restart that also replaces the token key: every open token is refused afterwards.
  await env.restart({ forgetKey: true });
  await waitFor(async () => !(await visible(booth, "#net")) && (await welcomes(booth, "booth")), "the kiosk back online", 30000);
  await waitFor(async () => welcomes(clerk, "clerk"), "the console back online", 30000);
  // The kiosk works as before: a citizen takes a ticket.
  await chooseService(booth, "teacher-cert");
  await booth.waitForSelector("#queue:not([hidden])");
  await waitFor(async () => (await booth.textContent("#q-ticket")).trim().length > 0, "a ticket number");
  // The console is signed in and can change its state (the kiosk's citizen may be offered to it at
  // once).
  await goAvailable(clerk, { orOffered: true });
  assert.equal(await visible(sup, "#dashboard"), true, "the dashboard did not fall back to a sign-in");
});
