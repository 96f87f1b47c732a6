// The OAuth flows and the web server example in Chromium, driven by playwright-core.
//
// Usage: node browser.test.mjs JOINME_CLI JOINME_SANDBOX JOINME_WEB_SERVER OUTPUT_DIR
//
// Each scenario runs in a fresh browser context and saves a screenshot of its last page in
// OUTPUT_DIR. Exits 77 (skipped) when Chromium or playwright-core is missing, unless
// JOINME_REQUIRE_BROWSER=1, when that is a failure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';

const CHROMIUM = process.env.JOINME_CHROMIUM || '/usr/bin/chromium';
const [cliProgram, sandboxProgram, webServerProgram, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node browser.test.mjs JOINME_CLI JOINME_SANDBOX JOINME_WEB_SERVER OUTPUT_DIR');
  process.exit(2);
}

let playwright;
try {
  playwright = createRequire(import.meta.url)('playwright-core');
} catch {
  playwright = null;
}
const missing = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not found (apt-get install chromium)`
  : !playwright
    ? 'playwright-core not installed (npm ci --prefix tests/browser)'
    : null;
if (missing) {
  const required = process.env.JOINME_REQUIRE_BROWSER === '1';
  console.log(`${required ? 'FAIL' : 'SKIP'}: ${missing}`);
  process.exit(required ? 1 : 77);
}

// A client of our own for the CLI, registered with the sandbox process.
const CLIENT_ID = 'browsertestclient0000001';
const CLIENT_SECRET = 'BrowserS3cret7';
const TIMEOUT = 15_000;

// --- programs ---------------------------------------------------------------------------

// Starts `program` and resolves with it and the first line of its standard output that
// matches `pattern` (and the match).
function start(program, args, pattern, options = {}) {
  const proc = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines = createInterface({ input: proc.stdout });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${program}: no line ${pattern}`)), TIMEOUT);
    lines.on('line', (line) => {
      const m = line.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, m });
      }
    });
    proc.on('exit', (code) => reject(new Error(`${program} exited (${code}) before ${pattern}`)));
  });
}

// Collects a process's output and resolves with its exit code once it ends.
function finished(proc) {
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (d) => (out.stdout += d));
  proc.stderr.on('data', (d) => (out.stderr += d));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, ...out })));
}

let work, sandbox, sandboxBase, ca, browser;
const cliEnv = () => ({
  ...process.env,
  DISPLAY: '',
  WAYLAND_DISPLAY: '',
  XDG_CONFIG_HOME: join(work, 'config'),
  JOINME_CLIENT_ID: CLIENT_ID,
  JOINME_CLIENT_SECRET: CLIENT_SECRET,
});
const cliArgs = (...a) => ['--auth-base', sandboxBase, '--ca-file', ca, ...a];

// `joinme ARGS...` to its end.
async function joinme(...args) {
  const proc = spawn(cliProgram, cliArgs(...args), { env: cliEnv() });
  return finished(proc);
}

// `joinme --json login ...`: resolves with the URL it prints and the promise of its end.
function startLogin(extra = [], timeout = 30) {
  const proc = spawn(cliProgram, cliArgs('--json', 'login', '--timeout', `${timeout}`, ...extra), {
    env: cliEnv(),
  });
  const done = finished(proc);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stderr });
    lines.on('line', (line) => {
      const m = line.match(/^Open this URL in a browser: (\S+)$/);
      if (m) resolve({ url: m[1], done });
    });
    done.then((r) => reject(new Error(`joinme login ended first: ${r.code} ${r.stderr}`)));
  });
}

// --- the browser ------------------------------------------------------------------------

// A fresh context and page; every console message is kept, to look for CSP violations.
async function newPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  page.console = [];
  page.on('console', (m) => page.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.console.push(`pageerror: ${e.message}`));
  return page;
}

function assertNoCspViolation(page) {
  const csp = page.console.filter((m) => /Content Security Policy|Refused to/i.test(m));
  assert.deepEqual(csp, [], 'CSP violations in the console');
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(outDir, `${name}.png`) });
  await page.context().close();
}

async function heading(page) {
  return (await page.locator('h1').first().textContent()).trim();
}

// The listener's page, once its title says `title`.
async function loopbackPage(page, title) {
  await page.waitForFunction((t) => document.title === t, title, { timeout: TIMEOUT });
  assert.equal(await heading(page), title);
  assert.equal(await page.locator('.app').textContent(), 'joinme');
}

before(async () => {
  mkdirSync(outDir, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'joinme-browser-'));
  ca = join(work, 'ca.pem');
  const s = await start(
    sandboxProgram,
    ['--port', '0', '--ca-out', ca, '--current-user', 'admin@example.com', '--quiet',
     '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET,
     '--redirect-uri', 'http://127.0.0.1/callback'],
    /^joinme-sandbox listening on (\S+)$/,
  );
  sandbox = s.proc;
  sandboxBase = s.m[1];
  browser = await playwright.chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
  });
  const version = createRequire(import.meta.url)('playwright-core/package.json').version;
  console.log(`playwright-core ${version}, Chromium ${browser.version()}`);
});

after(async () => {
  await browser?.close();
  sandbox?.kill('SIGTERM');
  if (work) rmSync(work, { recursive: true, force: true });
});

// --- 1-3: the CLI's login through the loopback listener --------------------------------

test('1. code flow: consent, the success page, whoami', async () => {
  const login = await startLogin();
  const page = await newPage();
  await page.goto(login.url);
  assert.match(await page.title(), /^join\.me sandbox: authorize /);

  // A redirect with another state, while the real sign-in waits: refused, and the page does
  // not send the person back to start again.
  const redirectUri = new URL(login.url).searchParams.get('redirect_uri');
  const forged = await newPage();
  await forged.goto(`${redirectUri}?code=forged&state=not-the-one`);
  assert.equal(await forged.title(), 'Link not recognised');
  assert.match(await forged.textContent('main'), /carry on in the tab where you started/);
  assert.doesNotMatch(await forged.textContent('main'), /start again|sign in again/);
  await forged.context().close();

  await page.click('button[value=accept]');
  await loopbackPage(page, 'Signed in');
  assert.match(await page.textContent('main'), /return to joinme/);
  const url = new URL(page.url());
  assert.equal(url.search, '', 'the code and state stay in the address bar');
  assert.equal(url.origin + url.pathname, redirectUri);
  assertNoCspViolation(page);

  const r = await login.done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).user.email, 'admin@example.com');
  const who = await joinme('--json', 'whoami');
  assert.equal(who.code, 0, who.stderr);
  assert.equal(JSON.parse(who.stdout).email, 'admin@example.com');
  await screenshot(page, '1-code-flow');
});

test('2. decline: access_denied in the CLI, a plain failure page', async () => {
  const login = await startLogin();
  const page = await newPage();
  await page.goto(login.url);
  await page.click('button[value=decline]');
  await loopbackPage(page, 'Sign-in declined');
  assert.equal(
    await page.locator('main p:not(.app):not(.code)').textContent(),
    'You declined; return to joinme to try again.',
  );
  assert.equal(await page.textContent('.code'), 'Error code: access_denied');
  assert.equal(new URL(page.url()).search, '');
  assertNoCspViolation(page);

  const r = await login.done;
  assert.equal(r.code, 5, r.stderr); // the CLI's "login failed"
  assert.match(r.stderr, /^joinme: .*access_denied/m);
  await screenshot(page, '2-decline');
});

test('3. implicit grant: the relay page under its CSP', async () => {
  const login = await startLogin(['--implicit']);
  const page = await newPage();
  await page.goto(login.url);
  await page.click('button[value=accept]');
  await loopbackPage(page, 'Signed in');
  assert.match(await page.textContent('#m'), /return to joinme/);
  const url = new URL(page.url());
  assert.equal(url.hash + url.search, '', 'the token stays in the address bar');
  assertNoCspViolation(page);

  const r = await login.done;
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.refreshable, false);
  assert.equal(out.user.email, 'admin@example.com');
  await screenshot(page, '3-implicit');
});

test('3b. implicit grant without JavaScript: the page says so', async () => {
  const login = await startLogin(['--implicit'], 3);
  const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(login.url);
  await page.click('button[value=accept]');
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback#/);
  assert.equal(await page.title(), 'Sign-in needs JavaScript');
  assert.equal(await heading(page), 'Sign-in needs JavaScript');
  assert.match(await page.textContent('#m'), /scripts are turned off/);
  assert.notEqual((await login.done).code, 0);
  await screenshot(page, '3b-implicit-no-javascript');
});

// --- 4-6: the web server example ---------------------------------------------------------

let web, webBase;
before(async () => {
  const s = await start(webServerProgram, ['--port', '0'],
    /^joinme-web-server listening on (http:\/\/127\.0\.0\.1:\d+)\/$/);
  web = s.proc;
  webBase = s.m[1];
});
after(() => web?.kill('SIGTERM'));

// Signs in at the web server as `user`, through the sandbox's consent page.
async function signIn(page, user) {
  await page.goto(webBase + '/');
  await page.click('#login');
  assert.match(await page.title(), /^join\.me sandbox: authorize /);
  await page.selectOption('select[name=user]', user);
  await page.click('button[value=accept]');
  await page.waitForURL(webBase + '/');
  assert.equal(await page.textContent('#email'), user);
}

const meetingRow = (page, name) => page.locator('tr.meeting', { hasText: name });

test('4. web server: profile, schedule, start, sign out; two users at once', async () => {
  const pro = await newPage();
  const free = await newPage();
  await Promise.all([signIn(pro, 'pro@example.com'), signIn(free, 'free@example.com')]);
  assert.match(await pro.textContent('#profile'), /Hardest Worker/);

  await pro.fill('input[name=name]', 'Browser review');
  await pro.click('button:text("Schedule")');
  await pro.waitForURL(webBase + '/');
  assert.match(await pro.textContent('.notice'), /Scheduled meeting \d+ "Browser review"/);
  await meetingRow(pro, 'Browser review').waitFor();

  await free.fill('input[name=name]', 'Free standup');
  await free.click('button:text("Schedule")');
  await meetingRow(free, 'Free standup').waitFor();
  await free.reload();
  assert.equal(await meetingRow(free, 'Browser review').count(), 0, 'another user\'s meeting');
  await pro.reload();
  assert.equal(await meetingRow(pro, 'Free standup').count(), 0, 'another user\'s meeting');

  await meetingRow(pro, 'Browser review').locator('button:text("Start")').click();
  await pro.waitForURL(webBase + '/');
  assert.match(await pro.textContent('.notice'), /Started meeting \d+/);
  assert.match(await pro.getAttribute('#presenter-link', 'href'), /^https?:\/\//);
  await free.context().close();

  await pro.click('button:text("Sign out")');
  await pro.waitForURL(webBase + '/');
  assert.match(await pro.textContent('body'), /You are not signed in/);
  assertNoCspViolation(pro);
  await screenshot(pro, '4-web-server');
});

test('5. web server: a forged callback is refused and says why', async () => {
  // The attacker's own callback (their code and state), not followed.
  const attacker = await newPage();
  await attacker.route(/\/callback\?/, (route) => route.abort());
  await attacker.goto(webBase + '/login');
  const [request] = await Promise.all([
    attacker.waitForRequest(/\/callback\?/),
    attacker.click('button[value=accept]'),
  ]);
  const forged = request.url();
  await attacker.context().close();

  // The victim, with a sign-in of their own in progress, opens it.
  const victim = await newPage();
  await victim.goto(webBase + '/login');
  await victim.goto(forged);
  assert.equal(await victim.title(), 'Sign-in refused');
  assert.match(await victim.textContent('body'), /Forged callback: its state is not the one/);
  assertNoCspViolation(victim);
  await screenshot(victim, '5-forged-callback');
});

test('6. web server: a stale token goes through renew authorization and back', async () => {
  const page = await newPage();
  await signIn(page, 'pro@example.com');
  await page.click('button:text("Make my token stale (sandbox)")');
  await page.waitForURL(webBase + '/');
  // The page's next call met the stale token.
  assert.match(await page.textContent('body'), /confirm that this site may go on using/);
  await page.click('#renew');
  assert.match(await page.title(), /^join\.me sandbox: renew authorization for /);
  await page.click('button:text("Renew authorization")');
  await page.waitForURL(webBase + '/');
  assert.match(await page.textContent('.notice'), /join.me renewed the authorization/);
  assert.doesNotMatch(await page.textContent('body'), /could not be listed/);
  assert.match(await page.textContent('body'), /Your meetings/);
  assertNoCspViolation(page);
  await screenshot(page, '6-renew-authorization');
});
