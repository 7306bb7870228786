// Every page of doorman in every shipped language, in a real browser
// (headless Chromium through playwright-core): for each language a fresh
// browser sends that Accept-Language and walks login (its error, and a
// locked name's message), the choice, the push waiting page, the SMS code
// page (a wrong code, then too many: back to the choice, saying so), the
// app, the authenticator enrollment page, the passkeys page, the recovery
// codes page (before and after making a set), the "sign in again" pages
// of enrollment, passkeys and recovery codes once the sign-in is no longer
// fresh, sign-out and its message, and an error page, and sees the code
// page's "Send again" countdown end; each heading and each text checked
// must be that language's text from locales/<tag>/doorman.ftl, not
// English's (a text with a value in it: its words before the value), and
// <html lang> its tag.
//
// Run by tests/it/browser.rs (`every_page_speaks_each_shipped_language`),
// which starts doorman with two users per language (`p-<tag>` for a push,
// `u-<tag>` for a text message).

import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const base = need("DOORMAN_URL");
const control = need("CONTROL_URL");
const password = need("PASSWORD");
const shots = need("SCREENSHOT_DIR");
const locales = need("LOCALES_DIR");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
// Languages whose pages are kept as pictures: tag → [page, file name].
const pictures = {
  de: [["login", "i18n-de-login"]],
  "pt-BR": [["code", "i18n-pt-BR-code"]],
  fr: [["recovery codes", "i18n-fr-recovery"]],
  es: [["passkeys", "i18n-es-passkeys"]],
};

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/// The one-line messages of a Fluent file (enough for headings).
function messages(tag) {
  const found = {};
  for (const [id, text] of Object.entries(firstLines(tag))) {
    if (!text.includes("{")) found[id] = text;
  }
  return found;
}

/// The words each message with a value in it starts with (before the value).
function openings(tag) {
  const found = {};
  for (const [id, text] of Object.entries(firstLines(tag))) {
    const before = text.split("{")[0].trim();
    if (text.includes("{") && before) found[id] = before;
  }
  return found;
}

function firstLines(tag) {
  const text = fs.readFileSync(path.join(locales, tag, "doorman.ftl"), "utf8");
  const found = {};
  for (const line of text.split("\n")) {
    const match = /^([a-z][a-z0-9_-]*) = (.+)$/.exec(line);
    if (match) found[match[1]] = match[2];
  }
  return found;
}

async function getJson(url) {
  const response = await fetch(url);
  check(response.ok, `${url}: HTTP ${response.status}`);
  return response.json();
}

fs.mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
});

const tags = fs.readdirSync(locales).sort();
const english = messages("en");
const englishOpenings = openings("en");
check(tags.length >= 5, `expected the five shipped languages, found ${tags}`);
for (const tag of tags) {
  const t = messages(tag);
  const o = openings(tag);
  const context = await browser.newContext({
    extraHTTPHeaders: { "Accept-Language": `${tag},en;q=0.1` },
    viewport: { width: 520, height: 760 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);

  /// The page shows `id`'s text as its heading, in language `tag`.
  async function heading(where, id) {
    const h1 = (await page.textContent("h1")).trim();
    check(h1 === t[id], `${tag} ${where}: heading ${JSON.stringify(h1)}, expected ${JSON.stringify(t[id])}`);
    const lang = await page.getAttribute("html", "lang");
    check(lang === tag, `${tag} ${where}: <html lang=${lang}>`);
    for (const [at, name] of pictures[tag] || []) {
      if (at === where) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    }
    console.log(`${tag} ${where}: ${h1}`);
  }
  /// The element at `selector` reads `id`'s text, in language `tag`.
  async function same(where, selector, id) {
    const text = (await page.textContent(selector)).trim();
    check(text === t[id], `${tag} ${where}: ${JSON.stringify(text)}, expected ${JSON.stringify(t[id])}`);
    if (tag !== "en") check(text !== english[id], `${tag} ${where}: still English: ${text}`);
  }
  /// `text` starts with the words of `id` (a message with a value).
  function opens(where, text, id) {
    check(o[id], `${tag}: ${id} has no words before its value`);
    check(text.startsWith(o[id]), `${tag} ${where}: ${JSON.stringify(text)}, expected ${JSON.stringify(o[id])}…`);
    if (tag !== "en") check(!text.startsWith(englishOpenings[id]), `${tag} ${where}: still English: ${text}`);
    console.log(`${tag} ${where}: ${text}`);
  }
  async function click(selector) {
    await Promise.all([page.waitForLoadState("load"), page.click(selector)]);
  }

  // Wrong passwords lock a name (one no account has, answered alike); the
  // page says it is locked and until when.
  await page.goto(`${base}/.doorman/login`);
  let locked = "";
  for (let attempt = 0; attempt < 5 && !locked; attempt++) {
    await page.fill("#username", `locked-${tag}`);
    await page.fill("#password", "not the password");
    await click("button[type=submit]");
    const said = (await page.textContent("#login-error")).trim();
    if (said !== t["login-wrong"]) locked = said;
  }
  opens("locked name", locked, "login-locked");

  // A push, and the pages around it, for p-<tag>.
  await page.goto(`${base}/reports/weekly`);
  await heading("login", "login-title");
  await page.fill("#username", `p-${tag}`);
  await page.fill("#password", "not the password");
  await click("button[type=submit]");
  await page.waitForSelector("#login-error");
  const error = (await page.textContent("#login-error")).trim();
  check(error === t["login-wrong"], `${tag} login error: ${error}`);
  check(
    (await page.getAttribute("#password", "aria-describedby")) === "login-error",
    `${tag}: the error is not tied to the password field`,
  );
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[type=submit]")]);
  await heading("choose", "choose-title");
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[name=channel][value=push]")]);
  await page.waitForSelector("#push-number");
  await heading("push", "push-title");
  await click("button.link"); // use another method
  await heading("choose again", "choose-title");
  await page.goto(`${base}/.doorman/logout`);
  await heading("logout", "logout-title");
  await click("button[type=submit]");
  await heading("signed out", "signed-out-title");
  await same("signed out", "main > p:not(.brand):not(.links)", "signed-out-text");
  await same("signed out: sign in again", ".links a", "sign-in-again");

  // A text message's code, the app and the enrollment page, for u-<tag>.
  await page.goto(`${base}/reports/weekly`);
  await page.fill("#username", `u-${tag}`);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[type=submit]")]);
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[name=channel][value=sms]")]);
  await page.waitForSelector("#code, .error");
  const refused = await page.$(".error");
  check(!refused, `${tag}: the SMS was refused: ${refused && (await refused.textContent())}`);
  await heading("code", "code-title");
  // "Send again" counts its wait down, then is ready, in the same words.
  await page.waitForFunction(() => !document.getElementById("resend").disabled);
  const resend = (await page.textContent("#resend")).trim();
  check(resend === t["send-again"], `${tag}: the resend button reads ${resend}`);
  const { code } = await getJson(`${control}/sms`);
  check(/^\d{6}$/.test(code), `${tag}: no SMS code: ${code}`);
  // A wrong code says so; the second (codes.max_attempts: 2) ends the
  // challenge and says why, on the choice.
  const wrong = String((Number(code) + 1) % 1000000).padStart(6, "0");
  await page.fill("#code", wrong);
  await click("button[type=submit]");
  await page.waitForSelector("#code-error");
  opens("wrong code", (await page.textContent("#code-error")).trim(), "code-wrong");
  await page.fill("#code", wrong);
  await click("button[type=submit]");
  await heading("too many wrong codes", "choose-title");
  await same("too many wrong codes", ".error", "code-exhausted");
  await getJson(`${control}/advance?seconds=2`); // past the resend wait
  await Promise.all([page.waitForURL(/\/\.doorman\/2fa/), page.click("button[name=channel][value=sms]")]);
  await page.waitForSelector("#code, .error");
  const refusedAgain = await page.$(".error");
  check(!refusedAgain, `${tag}: the second SMS was refused: ${refusedAgain && (await refusedAgain.textContent())}`);
  const again = (await getJson(`${control}/sms`)).code;
  check(/^\d{6}$/.test(again) && again !== code, `${tag}: no new SMS code: ${again}`);
  await page.fill("#code", again);
  await page.click("button[type=submit]");
  await page.waitForURL((url) => url.pathname === "/reports/weekly");
  await page.goto(`${base}/.doorman/totp/enroll`);
  await page.waitForSelector(".qr svg");
  await heading("enroll", "enroll-title");
  // The passkeys page: its heading, its empty list and its form, in
  // this language (English's texts only where this language is English).
  await page.goto(`${base}/.doorman/passkeys`);
  await heading("passkeys", "passkeys-heading");
  await same("passkeys list", "main > p:not(.brand):not(.links)", "passkeys-none");
  await same("passkey name label", "label[for=passkey-name]", "passkey-name-label");
  check(
    (await page.getAttribute("#passkey-name", "placeholder")) === t["passkey-name-placeholder"],
    `${tag}: the passkey name placeholder is not translated`,
  );
  // Recovery codes: none yet, then a new set, shown once.
  await page.goto(`${base}/.doorman/recovery`);
  await heading("recovery codes none", "recovery-title");
  await same("no recovery codes", "main > p:not(.brand):not(.links)", "recovery-none");
  await same("make recovery codes", "button[type=submit]", "recovery-make");
  await click("button[type=submit]");
  await page.waitForSelector(".recovery-codes li");
  await same("new recovery codes", ".notice", "recovery-new");
  await heading("recovery codes", "recovery-title");
  await page.goto(`${base}/.doorman/recovery`);
  await same("make new recovery codes", "button[type=submit]", "recovery-make-new");
  // 16 minutes on, the sign-in is no longer fresh: changing a second
  // factor asks for a new one first.
  await getJson(`${control}/advance?seconds=960`);
  await page.goto(`${base}/.doorman/totp/enroll`);
  await heading("enroll: sign in again", "enroll-reauth-title");
  await same("enroll: sign in again", "main > p:not(.brand):not(.links)", "enroll-reauth-text");
  await same("enroll: sign in again link", ".links a", "sign-in-again");
  for (const [at, why] of [
    ["passkeys", "sign-in-again-to-change-passkeys"],
    ["recovery", "sign-in-again-to-make-recovery-codes"],
  ]) {
    await page.goto(`${base}/.doorman/${at}`);
    await heading(`${at}: sign in again`, "sign-in-again");
    await same(`${at}: sign in again`, "main > p:not(.brand):not(.links)", why);
  }
  await page.goto(`${base}/.doorman/no-such-page`);
  await heading("error", "error-title");
  await context.close();
}

await browser.close();
console.log(`browser languages: all pages in ${tags.join(", ")}`);
