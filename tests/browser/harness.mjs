// Shared set-up of the browser tests: the real server binary on a free port (demo config, its own
// data directory), Debian's headless Chromium with a fake camera, pages in fresh contexts, and a
// polling wait. Screenshots go to target/screenshots/, or to docs/screenshots/ (the README's) with
// XIAOWU_SCREENSHOTS=docs, so that a test run leaves the checkout as it found it.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const shots = join(root, process.env.XIAOWU_SCREENSHOTS === "docs" ? "docs/screenshots" : "target/screenshots");
mkdirSync(shots, { recursive: true });
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--allow-loopback-in-peer-connection"];

export const KIOSK = { width: 1080, height: 1920 };
export const DESKTOP = { width: 1920, height: 1080 };

const freePort = () => new Promise((res) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });

export const waitFor = async (fn, what, ms = 20000) => {
  const end = Date.now() + ms;
  for (;;) { const v = await fn(); if (v) return v; if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await new Promise((r) => setTimeout(r, 200)); }
};

/** Starts the server (with extra CLI args) and Chromium; returns { base, page(path, viewport), stop() }. */
export async function startAll(serverArgs = []) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cwd = mkdtempSync(join(tmpdir(), "xiaowu-browser-")); // documents and cases land here
  const launch = () => spawn(join(root, "target/debug/signaling-server"), ["--listen", `127.0.0.1:${port}`, ...serverArgs], { cwd, env: { ...process.env, RUST_LOG: "warn" }, stdio: "inherit" });
  const healthy = () => waitFor(async () => { try { return (await fetch(`${base}/healthz`)).ok; } catch { return false; } }, "the server");
  let server = launch();
  await healthy();
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: FLAGS, headless: true });
  async function page(path, viewport) {
    const ctx = await browser.newContext({ viewport, permissions: ["camera", "microphone", "notifications"] });
    const p = await ctx.newPage();
    p.on("pageerror", (e) => console.error(`page error on ${path}:`, e.message));
    // Anything the Content-Security-Policy blocked (an inline script or style, an eval, a
    // connection elsewhere) is a defect of the page: every test fails on it at its stop.
    p.on("console", (m) => { if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(`${path}: ${m.text()}`); });
    const response = await p.goto(`${base}${path}`);
    const csp = response.headers()["content-security-policy"] || "";
    if (!csp.includes("script-src 'self'") || !csp.includes("frame-ancestors 'none'")) cspViolations.push(`${path}: no strict Content-Security-Policy (${csp})`);
    return p;
  }
  const cspViolations = [];
  const stop = async () => {
    await browser.close();
    server.kill();
    assert.deepEqual(cspViolations, [], "Content-Security-Policy violations");
  };
  /** Stops the server (SIGTERM: a clean stop) and starts it again on the same port and data
   * directory; with `forgetKey` its token key is deleted first, so every open page's token is
   * refused after the restart. */
  async function restart({ forgetKey = false } = {}) {
    const exited = new Promise((res) => server.once("exit", res));
    server.kill("SIGTERM");
    await exited;
    if (forgetKey) rmSync(join(cwd, "xiaowu-data", "token.key"), { force: true });
    server = launch();
    await healthy();
  }
  return { base, browser, page, stop, restart };
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/** Runs axe on the page as it is now; fails listing every violation and where. */
export async function audit(p, label) {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy allows no inline
  // script, and a test must not weaken it.
  if (!(await p.evaluate(() => typeof window.axe === "object"))) await p.evaluate(AXE);
  const result = await p.evaluate((tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags } }), TAGS);
  const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(found, [], `axe violations on ${label}`);
  assert.ok(result.passes.length > 10, `axe ran its rules on ${label}`);
}

/** Makes the console's clerk available (a clerk coming back within its grace period may be
 * available already: the button is then disabled) and waits until the state says so. With
 * `orOffered`, an offer counts too: a waiting citizen's ticket is offered the moment the clerk is
 * available, and the state may say Offered before a look ever saw Available. */
export async function goAvailable(clerk, { orOffered = false } = {}) {
  // Clicked through the DOM, again until the state says Available: the state may change (and the
  // button with it) between a look and a click.
  await waitFor(() => clerk.evaluate((orOffered) => {
    const state = document.querySelector("#state").textContent;
    if (state.includes("Available") || (orOffered && state.includes("Offered"))) return true;
    const b = document.querySelector("#go-available");
    if (!b.disabled && !b.dataset.clicked) { b.dataset.clicked = "1"; b.click(); setTimeout(() => delete b.dataset.clicked, 1000); }
    return false;
  }, orOffered), "the clerk available");
}

/** Taps a service on the kiosk and, on the screen of the documents it needs, "Queue now". */
export async function chooseService(booth, code) {
  await booth.click(`button[data-service="${code}"]`);
  await booth.waitForSelector("#materials:not([hidden])");
  await booth.click("#materials-go");
}

/** No sideways scrolling at this viewport. */
export async function fits(p, label) {
  const [scroll, inner] = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `${label}: ${scroll}px wide content in a ${inner}px viewport`);
}

