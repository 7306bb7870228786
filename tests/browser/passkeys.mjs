// Passkeys in a real browser (headless Chromium, playwright-core) with
// the DevTools virtual authenticator: a passkey enrolled after a fresh
// sign-in, then used as the second factor; and refused when the
// assertion is replayed, names a credential doorman does not know, or was
// made on another origin; and signs in with the passkey alone
// (passwordless). Screenshots of the new pages go to
// $SCREENSHOT_DIR.
//
// Run by tests/it/browser.rs (`a_real_browser_enrols_and_uses_a_passkey`),
// which starts doorman on http://localhost:PORT (a secure context, with
// webauthn.rp_id `localhost`) in front of the demo app.

import { chromium } from "playwright-core";
import { check, need, totp } from "./common.mjs";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const base = need("DOORMAN_URL");
const totpSecret = need("TOTP_SECRET");
const password = need("PASSWORD");
const shots = need("SCREENSHOT_DIR");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

// A second origin for the same doorman: another port on localhost,
// forwarded byte for byte (cookies do not tell ports apart, so the
// session carries over; only the origin the browser signs differs).
const target = new URL(base);
const forwarder = net.createServer((client) => {
  const upstream = net.connect(Number(target.port), "127.0.0.1");
  client.pipe(upstream).pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
});
await new Promise((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
const otherOrigin = `http://localhost:${forwarder.address().port}`;

fs.mkdirSync(shots, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "doorman-passkeys-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 520, height: 760 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15_000);
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable");
const authenticator = {
  protocol: "ctap2",
  transport: "internal",
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};
const { authenticatorId: first } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: authenticator,
});

async function shot(name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  console.log(`screenshot ${name}.png (${page.url()})`);
}

async function password_step(origin = base) {
  await page.goto(`${origin}/reports/weekly`);
  check(new URL(page.url()).pathname === "/.doorman/login", `not sent to login: ${page.url()}`);
  await page.fill("#username", "alice");
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[type=submit]")]);
}

async function at_the_app() {
  await page.waitForURL((url) => url.pathname === "/reports/weekly");
  const heading = await page.textContent("h1");
  check(heading.includes("Signed in as alice"), `unexpected app page: ${heading}`);
}

async function sign_out() {
  await page.goto(`${base}/.doorman/logout`);
  await page.click("button[type=submit]");
  await page.waitForSelector("text=You have signed out.");
}

/// Whether the page refused the passkey, and the session is still short of
/// the second factor (the app sends it back to the 2fa page).
async function refused(what) {
  const text = await page.textContent("body");
  check(text.includes("That passkey was not accepted"), `${what}: not refused: ${text}`);
  await page.goto(`${base}/reports/weekly`);
  check(new URL(page.url()).pathname !== "/reports/weekly", `${what}: signed in anyway`);
  console.log(`refused: ${what}`);
}

// 1. A full sign-in (password + authenticator app), then a passkey added.
await password_step();
await page.click("button[name=channel][value=totp]");
await page.waitForSelector("#code");
await page.fill("#code", totp(totpSecret));
await page.click("button[type=submit]");
await at_the_app();
await page.goto(`${base}/.doorman/passkeys`);
await page.waitForSelector("text=You have no passkey yet.");
await page.fill("#passkey-name", "Laptop");
await Promise.all([page.waitForEvent("framenavigated"), page.click("text=Add a passkey")]);
await page.waitForSelector("text=Passkey “Laptop” added.");
await shot("8-passkeys");
const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: first });
check(credentials.length === 1, `expected one credential, got ${credentials.length}`);
const laptop = credentials[0];
await sign_out();

// 2. Password, then the passkey as the second factor; the assertion
// posted is kept for the replay below.
let captured = null;
await page.route("**/.doorman/2fa/passkey", (route) => {
  captured = route.request().postData();
  return route.continue();
});
await password_step();
await page.waitForSelector("#use-passkey:not([hidden])");
await shot("9-choose-passkey");
// With the keyboard: Tab to the button, Enter.
await page.focus("#use-passkey");
await Promise.all([page.waitForURL((url) => url.pathname === "/reports/weekly"), page.keyboard.press("Enter")]);
await at_the_app();
await page.unroute("**/.doorman/2fa/passkey");
check(captured && captured.includes("credential="), "no assertion captured");
console.log("signed in with the passkey as the second factor");
await sign_out();

// 3. Replayed: a new sign-in with the password, a new challenge begun,
// and the old assertion posted against it (with this page's CSRF token).
await password_step();
const csrf = await page.inputValue("form[data-passkey] input[name=csrf]");
const begun = await page.evaluate(async (csrf) => {
  const response = await fetch("/.doorman/2fa/passkey/begin", {
    method: "POST",
    body: new URLSearchParams({ csrf }),
    headers: { Accept: "application/json" },
  });
  return response.status;
}, csrf);
check(begun === 200, `begin answered ${begun}`);
const replay = new URLSearchParams(captured);
replay.set("csrf", csrf);
const replayed = await page.request.post(`${base}/.doorman/2fa/passkey`, {
  headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "text/html" },
  data: replay.toString(),
  maxRedirects: 0,
});
check(replayed.status() === 401, `the replayed assertion answered ${replayed.status()}`);
check((await replayed.text()).includes("That passkey was not accepted"), "replay not refused");
await page.goto(`${base}/reports/weekly`);
check(new URL(page.url()).pathname !== "/reports/weekly", "replay: signed in anyway");
console.log("refused: a replayed assertion");

// 4. An unknown credential: another authenticator whose own passkey for
// localhost doorman never saw (the allow list is dropped from the
// challenge so the browser offers it).
await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: first });
const { authenticatorId: second } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: authenticator,
});
const stranger = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const strangerId = crypto.randomBytes(16).toString("base64");
await cdp.send("WebAuthn.addCredential", {
  authenticatorId: second,
  credential: {
    credentialId: strangerId,
    isResidentCredential: true,
    rpId: "localhost",
    privateKey: stranger.export({ type: "pkcs8", format: "der" }).toString("base64"),
    userHandle: crypto.randomBytes(16).toString("base64"),
    signCount: 0,
  },
});
await page.route("**/.doorman/2fa/passkey/begin", async (route) => {
  const response = await route.fetch();
  const options = await response.json();
  delete options.publicKey.allowCredentials;
  await route.fulfill({ response, json: options });
});
await page.goto(`${base}/.doorman/2fa`);
await Promise.all([page.waitForEvent("framenavigated"), page.click("#use-passkey")]);
await page.waitForLoadState("load");
await page.unroute("**/.doorman/2fa/passkey/begin");
await refused("an unknown credential");

// 5. Another origin: the enrolled passkey, back in an authenticator,
// signs for http://localhost:OTHER, which webauthn.origins does not list.
await cdp.send("WebAuthn.addCredential", { authenticatorId: second, credential: laptop });
await page.goto(`${otherOrigin}/.doorman/2fa`);
await Promise.all([page.waitForEvent("framenavigated"), page.click("#use-passkey")]);
await page.waitForLoadState("load");
await refused("an assertion made on another origin");

// 6. And on the right origin the same passkey still signs in.
await page.goto(`${base}/.doorman/2fa?rd=%2Freports%2Fweekly`);
await Promise.all([page.waitForURL((url) => url.pathname === "/reports/weekly"), page.click("#use-passkey")]);
await at_the_app();
console.log("signed in with the passkey again");

// 7. Passwordless: the discoverable passkey alone, from the login page
// (the stranger's passkey gone, so the browser has one to offer).
await cdp.send("WebAuthn.removeCredential", { authenticatorId: second, credentialId: strangerId });
await sign_out();
await page.goto(`${base}/reports/weekly`);
await page.waitForSelector("#passkey-sign-in:not([hidden])");
await shot("10-login-passkey");
await Promise.all([page.waitForURL((url) => url.pathname === "/reports/weekly"), page.click("#passkey-sign-in")]);
await at_the_app();
console.log("signed in passwordless");

await context.close();
forwarder.close();
fs.rmSync(profile, { recursive: true, force: true });
console.log("browser passkeys: all steps passed");
