// doorman's whole sign-in in a real browser (headless Chromium through
// playwright-core): password, then each second factor in turn — an SMS
// code from the webhook provider, an authenticator-app code, and a push
// approved through the ntfy emulation — each ending on the upstream app.
// A screenshot of every page goes to $SCREENSHOT_DIR.
//
// Run by tests/it/browser.rs, which starts doorman, the upstream, the
// webhook receiver, the ntfy emulation and a small control server, and
// passes their addresses in the environment.

import { chromium } from "playwright-core";
import { check, need, totp } from "./common.mjs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const base = need("DOORMAN_URL");
const control = need("CONTROL_URL");
const totpSecret = need("TOTP_SECRET");
const password = need("PASSWORD");
const shots = need("SCREENSHOT_DIR");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

async function getJson(url) {
  const response = await fetch(url);
  check(response.ok, `${url}: HTTP ${response.status}`);
  return response.json();
}

fs.mkdirSync(shots, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "doorman-e2e-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 520, height: 760 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15_000);

async function shot(name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  console.log(`screenshot ${name}.png (${page.url()})`);
}

/// From the app's URL to the second-factor choice, with the password.
async function password_step(screenshot) {
  await page.goto(`${base}/reports/weekly`);
  check(new URL(page.url()).pathname === "/.doorman/login", `not sent to login: ${page.url()}`);
  await page.fill("#username", "alice");
  await page.fill("#password", password);
  if (screenshot) await shot("1-login");
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[type=submit]")]);
}

/// The upstream app's page, reached after sign-in.
async function at_the_app(screenshot) {
  await page.waitForURL((url) => url.pathname === "/reports/weekly");
  const heading = await page.textContent("h1");
  check(heading.includes("Signed in as alice"), `unexpected app page: ${heading}`);
  if (screenshot) await shot(screenshot);
}

async function sign_out() {
  await page.goto(`${base}/.doorman/logout`);
  // GET only asks; the form signs out.
  await page.click("button[type=submit]");
  await page.waitForSelector("text=You have signed out.");
}

async function choose(channel) {
  await Promise.all([
    page.waitForURL(/\/\.doorman\/2fa/),
    page.click(`button[name=channel][value=${channel}]`),
  ]);
}

// 1. Password, then an SMS code from the webhook provider.
await password_step(true);
await shot("2-choose");
await choose("sms");
await page.waitForSelector("#code");
await shot("3-sms-code");
const { code } = await getJson(`${control}/sms`);
check(/^\d{6}$/.test(code), `no SMS code: ${code}`);
await page.fill("#code", code);
await page.click("button[type=submit]");
await at_the_app("7-app");
await sign_out();

// 2. Password, then the authenticator app.
await password_step(false);
await choose("totp");
await page.waitForSelector("#code");
await shot("4-totp-code");
await page.fill("#code", totp(totpSecret));
await page.click("button[type=submit]");
await at_the_app(null);
await sign_out();

// 3. Password, then a push approved through ntfy: the phone taps the
// number the page shows; the waiting page notices on its own.
await password_step(false);
await choose("push");
await page.waitForSelector("#push-number");
const number = (await page.textContent("#push-number")).trim();
check(/^\d\d$/.test(number), `no number on the waiting page: ${number}`);
await shot("5-push-waiting");
const { actions } = await getJson(`${control}/ntfy`);
check(actions.length === 3, `expected 3 actions, got ${actions.length}`);
const tap = actions.find((action) => action.label === number);
check(tap, `no action labelled ${number}`);
const answer = await fetch(tap.url, { method: "POST" });
check(answer.status === 200, `approving answered HTTP ${answer.status}`);
await at_the_app(null);

// 4. Signed in: the authenticator enrollment page.
await page.goto(`${base}/.doorman/totp/enroll`);
await page.waitForSelector(".qr svg");
await shot("6-enroll");

await context.close();
fs.rmSync(profile, { recursive: true, force: true });
console.log("browser e2e: all steps passed");
