// The main flow of the web UI in headless Chromium: sign in, invite an unregistered e-mail, sign
// up as that person and accept, request emergency access, approve it as another user, see the
// emergency mark and the review, and find it all in the history. Screenshots of the main pages
// go to e2e/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const artifacts = join(here, "..", "artifacts");
const binary = process.env.BREAKGLASS_BIN ?? join(root, "target", "debug", "breakglass");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PASSWORD = "breakglass-demo";
const ADMIN_TOKEN = "bgt_e2e_" + "0".repeat(56);

let server, base, browser, dataDir;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitUp(url, ms = 30000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url + "/healthz");
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("server did not start");
}

async function api(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

async function signIn(page, email) {
  await page.goto(base + "/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/");
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/login$/);
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "breakglass-e2e-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(binary, ["serve", "--demo", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`], {
    env: { ...process.env, BREAKGLASS_ADMIN_TOKEN: ADMIN_TOKEN, RUST_LOG: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitUp(base);
  // An emergency on fraud-ml needs one manager's approval (the demo's emergencies are immediate).
  const policy = await api("POST", "/api/v1/policies", {
    name: "Emergency: one manager",
    workspace: "payments",
    steps: [{ approvers: "workspace_managers", count: 1 }],
    max_duration: "1h",
  });
  await api("PUT", "/api/v1/workspaces/payments/projects/fraud-ml/entitlements/admin", {
    emergency_enabled: true,
    emergency_policy: policy.id,
  });
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("invite, sign up, accept, emergency request, approval, review, history", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();

  // Signing in with a wrong password keeps the e-mail and says what is wrong.
  await page.goto(base + "/login");
  await shot(page, "01-login");
  await page.getByLabel("E-mail").fill("alice@example.com");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await assert.doesNotReject(page.getByText("wrong e-mail or password").waitFor());
  assert.equal(await page.getByLabel("E-mail").inputValue(), "alice@example.com");

  // Alice, owner of payments, invites an address that has no account.
  await signIn(page, "alice@example.com");
  await shot(page, "02-dashboard-alice");
  await page.goto(base + "/w/payments");
  await page.locator("#invite-email").fill("zoe@example.com");
  await page.locator("#invite-role").selectOption("member");
  await page.getByRole("button", { name: "Invite" }).click();
  const link = (await page.locator("#invite-link").textContent()).trim();
  assert.match(link, /^\/signup\?code=bgi_/);
  await shot(page, "03-workspace-invited");
  await signOut(page);

  // Zoe follows the link, signs up (a too-short password first), and accepts.
  await page.goto(base + link);
  assert.equal(await page.getByLabel("E-mail").inputValue(), "zoe@example.com");
  await page.getByLabel("Your name").fill("Zoe Zhang");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.locator(".field-error").first().waitFor();
  assert.equal(await page.getByLabel("Your name").inputValue(), "Zoe Zhang", "typed values are kept");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Invitations for you" }).waitFor();
  await shot(page, "04-dashboard-invited");
  await page.getByRole("button", { name: "Accept" }).click();
  await page.waitForURL(base + "/w/payments");
  await page.getByText("You joined payments as member").waitFor();

  // Zoe asks for emergency admin on fraud-ml.
  await page.goto(base + "/request?ws=payments");
  await page.locator("#request-target").selectOption("fraud-ml|admin");
  assert.ok(await page.locator("#emergency-box").isVisible(), "the emergency toggle shows where it is allowed");
  await page.locator("#request-duration").fill("30m");
  await page.locator("#request-justification").fill("INC-9001: fraud model rejects all payments");
  await page.locator("#request-emergency").check();
  await shot(page, "05-request-emergency");
  await page.getByRole("button", { name: "Send request" }).click();
  await page.waitForURL(/\/requests\//);
  const requestUrl = page.url();
  await page.getByText("pending", { exact: true }).first().waitFor();
  assert.ok(await page.locator("h1 .badge.emergency").isVisible(), "the request carries the emergency mark");
  await signOut(page);

  // Bob, manager of payments, sees it first among his tasks, marked, and approves it.
  await signIn(page, "bob@example.com");
  const firstTask = page.locator("#task-h + .table-wrap tbody tr").first();
  assert.match(await firstTask.textContent(), /Emergency/);
  assert.match(await firstTask.textContent(), /zoe@example\.com/);
  await shot(page, "06-dashboard-bob-tasks");
  await firstTask.getByRole("button", { name: "Approve" }).click();
  await page.waitForURL(requestUrl);
  await page.getByText("granted", { exact: true }).first().waitFor();
  await shot(page, "07-request-granted");
  await signOut(page);

  // Zoe holds it now, marked as emergency, with a countdown.
  await signIn(page, "zoe@example.com");
  const row = page.locator("#my-h + .table-wrap tr", { hasText: "fraud-ml" });
  assert.match(await row.textContent(), /Emergency/);
  assert.match(await row.textContent(), /in \d+m/);
  await signOut(page);

  // Alice sees the open review, marked, and completes it.
  await signIn(page, "alice@example.com");
  await page.getByRole("heading", { name: /Open emergency reviews/ }).waitFor();
  await shot(page, "08-dashboard-alice-review");
  const review = page.locator("#rev-h").locator("..");
  await review.getByLabel("Notes").first().fill("Confirmed with the incident channel.");
  await review.getByRole("button", { name: "Complete review" }).first().click();
  await page.getByText("Review completed.").waitFor();

  // The history shows all of it, with the emergency events marked, and each event in detail.
  await page.goto(base + "/w/payments/history");
  const history = await page.locator("table").textContent();
  for (const type of ["USER_INVITED", "USER_ACCEPTED_INVITATION", "ACCESS_REQUESTED", "REQUEST_APPROVED", "ACCESS_GRANTED", "EMERGENCY_REVIEW_OPENED", "EMERGENCY_REVIEW_COMPLETED"]) {
    assert.ok(history.includes(type), `history shows ${type}`);
  }
  assert.ok((await page.locator("tr.emergency-row").count()) >= 3, "emergency events are marked");
  await shot(page, "09-history");
  await page.locator("tr", { hasText: "EMERGENCY_REVIEW_COMPLETED" }).getByRole("link", { name: "Details" }).click();
  await page.getByText("Previous hash").waitFor();
  await shot(page, "10-event-details");

  await context.close();
});

test("forms refuse a missing CSRF token and pages need a session", async () => {
  const r = await fetch(base + "/", { redirect: "manual" });
  assert.equal(r.status, 303);
  assert.match(r.headers.get("location"), /^\/login/);
  const post = await fetch(base + "/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "email=alice%40example.com&password=breakglass-demo",
    redirect: "manual",
  });
  assert.equal(post.status, 403);
});

test("a phone-width screen and the keyboard reach the dashboard", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  await page.goto(base + "/login");
  await page.keyboard.press("Tab");
  await page.keyboard.type("dave@example.com");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(base + "/");
  await page.getByRole("heading", { name: "My access" }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await shot(page, "11-phone-dashboard");
  await context.close();
});

test("the admin area verifies the audit chain", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, "petra@example.com");
  await page.getByRole("link", { name: "Admin area" }).click();
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  await shot(page, "12-admin-area");
  await page.getByRole("button", { name: "Verify the audit chain" }).click();
  await page.locator("#verify-result").getByText("The audit chain is intact").waitFor();
  await context.close();
});

test("a delegate switches to the owner's account and sees whose rights are in use", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, "erin@example.com");
  await page.locator("#as-switch").selectOption("alice@example.com");
  await page.getByText("Acting as Alice Andersen").waitFor();
  await page.getByText("you are erin@example.com").waitFor();
  await page.goto(base + "/w/payments");
  await page.getByRole("heading", { name: "Current access" }).waitFor();
  await shot(page, "13-acting-as");
  await page.getByRole("button", { name: "Switch back to myself" }).click();
  await page.getByText("You are using your own rights again.").waitFor();
  assert.equal(await page.getByText("Acting as Alice Andersen").count(), 0);
  await context.close();
});

test("the other main pages render for a workspace owner", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await signIn(page, "alice@example.com");
  const pages = [
    ["/w/payments?tab=projects", "Payments", "14-projects"],
    ["/w/payments/p/ledger", "Current access", "15-project-access"],
    ["/w/payments?tab=policies", "Entitlements", "16-policies"],
    ["/w/payments?tab=reviews", "Payments", "17-reviews"],
    ["/w/payments?tab=settings", "Tags", "18-settings"],
    ["/accesses", "Your accesses", "19-accesses"],
    ["/check", "Check access", "20-check"],
  ];
  for (const [path, heading, name] of pages) {
    const r = await page.goto(base + path);
    assert.equal(r.status(), 200, path);
    await page.getByRole("heading", { name: heading }).first().waitFor();
    await shot(page, name);
  }
  // A check proves who holds what, with the binding that grants it.
  await page.locator("#check-user").fill("dave@example.com");
  await page.locator("#check-workspace").fill("payments");
  await page.locator("#check-project").fill("checkout");
  await page.locator("#check-role").fill("user");
  await page.getByRole("button", { name: "Check" }).click();
  await page.locator("#check-answer").getByText("Yes: dave@example.com holds user").waitFor();
  await shot(page, "21-check-answer");
  await context.close();
});
