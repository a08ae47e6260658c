// The policy playground as a person uses it, in headless Chromium (playwright-core driving
// the system's /usr/bin/chromium), served by `vigil playground`. Prints one line per test
// and a cargo-style `test result:` line that scripts/test counts.
//
//   VIGIL_BIN=target/debug/vigil VIGIL_WASM=…/vigil_plugin.wasm node web/tests/browser.mjs
//   VIGIL_SCREENSHOT=1 …   also rewrites web/playground.png (the README's screenshot)

import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = process.env.VIGIL_BIN || join(ROOT, 'target/debug/vigil');
const WASM = process.env.VIGIL_WASM || join(ROOT, 'target/wasm32-wasip1/release/vigil_plugin.wasm');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DIST = join(ROOT, 'web/dist');

function startServer() {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['playground', '--listen', '127.0.0.1:0', '--dir', DIST], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^(http:\/\/127\.0\.0\.1:\d+\/)\n/);
      if (m) resolve({ proc: p, url: m[1] });
    });
    p.on('exit', (c) => reject(new Error(`vigil playground exited (${c})`)));
  });
}

function vigilReplay(scenario, format) {
  const out = execFileSync(BIN, ['replay', '--plugin', WASM, '--format', format, join(ROOT, 'web/scenarios', `${scenario}.traffic.jsonl`)], { stdio: ['ignore', 'pipe', 'ignore'] });
  return out.toString('utf8').split('\n').filter((l) => l.length > 0);
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

let server;
let browser;
let problems = [];

async function open(url, { results = true } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('request', (r) => { if (!r.url().startsWith(server.url)) problems.push(`request off the page's origin: ${r.url()}`); });
  await page.goto(url);
  await page.waitForFunction((r) => (r ? document.body.dataset.firstResultMs : document.body.dataset.ready), results);
  return page;
}

async function pick(page, scenario) {
  await page.selectOption('#scenario', scenario);
  await page.waitForFunction((s) => document.querySelector('#traffic').value.length > 0 && document.querySelector('#status').textContent.startsWith('Ran'), scenario);
}

const shownRecords = (page) => page.$$eval('pre.record', (ps) => ps.map((p) => p.textContent));

test('browser_loads_the_page_and_runs_a_scenario_without_errors', async () => {
  const page = await open(server.url);
  const summary = await page.textContent('#summary');
  assert.match(summary, /exchanges, \d+ events/);
  assert.deepEqual(problems, []);
});

test('browser_brute_force_scenario_shows_the_events_the_rule_and_the_alert', async () => {
  const page = await open(server.url);
  await pick(page, 'brute-force');
  const alerts = await page.$$eval('.badge.alert', (bs) => bs.map((b) => b.textContent));
  assert.ok(alerts.some((a) => a.startsWith('authn_login_fail_max · rule brute_force')), alerts.join());
  const events = await page.$$eval('.badge.event', (bs) => bs.map((b) => b.textContent));
  assert.ok(events.includes('authn_login_fail · rule login'), events.join());
  const fig = await page.$eval('figure.detector', (f) => [f.dataset.name, Number(f.dataset.max)]);
  assert.equal(fig[0], 'login failures per source');
  assert.ok(fig[1] >= 11, `max ${fig[1]}`);
});

test('browser_works_offline_once_loaded', async () => {
  const page = await open(server.url);
  await page.context().setOffline(true);
  await pick(page, 'credential-stuffing');
  const alerts = await page.$$eval('.badge.alert', (bs) => bs.map((b) => b.textContent));
  assert.ok(alerts.some((a) => a.startsWith('authn_login_stuffing')), alerts.join());
  await page.selectOption('#format', 'cef');
  await page.waitForFunction(() => document.querySelector('#summary').textContent.includes('; cef records'));
  assert.match((await shownRecords(page))[0], /^CEF:0\|/);
  assert.deepEqual(problems.filter((p) => !p.startsWith('request off')), []);
});

test('browser_example_policy_changes_the_events', async () => {
  const page = await open(server.url);
  await pick(page, 'brute-force');
  await page.selectOption('#example', 'strict-brute-force');
  await page.waitForFunction(() => document.querySelector('#policy').value.includes('"max_failures": 4'));
  const line = await page.$eval('.badge.alert', (b) => b.closest('li').dataset.line);
  assert.equal(line, '6', 'with max_failures 4 the 5th failure (line 6) raises the alert');
});

test('browser_policy_error_is_shown_at_its_json_path_and_clears_when_fixed', async () => {
  const page = await open(server.url);
  await pick(page, 'brute-force');
  await page.fill('#policy', '{"version": 1,\n "brute_force": {"enabled": true, "max_failures": "ten", "window_seconds": 60, "slots": 1024}}');
  await page.waitForSelector('#policy-errors li');
  const path = await page.$eval('#policy-errors li', (li) => li.dataset.path);
  assert.equal(path, 'brute_force.max_failures');
  assert.equal(await page.textContent('#policy-mark'), '"max_failures"');
  assert.match(await page.textContent('#policy-errors li'), /^2:\d+ at brute_force\.max_failures: /);
  await page.click('#run');
  assert.match(await page.textContent('#status'), /errors/);
  await page.fill('#policy', '{"version": 1,\n "brute_force": {"enabled": true, "max_failures": 3, "window_seconds": 60, "slots": 1024}}');
  await page.waitForFunction(() => document.querySelectorAll('#policy-errors li').length === 0);
  assert.equal(await page.textContent('#policy-mark'), '');
  await page.click('#run');
  const line = await page.$eval('.badge.alert', (b) => b.closest('li').dataset.line);
  assert.equal(line, '5', 'with max_failures 3 the 4th failure (line 5) raises the alert');
});

test('browser_traffic_error_is_shown_at_its_line', async () => {
  const page = await open(server.url);
  await pick(page, 'brute-force');
  const lines = (await page.inputValue('#traffic')).split('\n');
  lines[2] = lines[2].replace('"source"', '"sauce"');
  await page.fill('#traffic', lines.join('\n'));
  await page.click('#run');
  await page.waitForSelector('#traffic-errors li');
  assert.equal(await page.$eval('#traffic-errors li', (li) => li.dataset.line), '3');
  assert.match(await page.textContent('#traffic-errors li'), /^line 3: .*sauce/);
  assert.equal(await page.$$eval('li.exchange', (xs) => xs.length), 0);
});

for (const scenario of ['brute-force', 'hostile']) {
  test(`browser_${scenario.replace('-', '_')}_records_equal_vigil_replay_in_every_format`, async () => {
    const page = await open(server.url);
    await pick(page, scenario);
    for (const format of ['ecs', 'ocsf', 'cef', 'owasp']) {
      await page.selectOption('#format', format);
      await page.waitForFunction((f) => document.querySelector('#summary').textContent.includes(`; ${f} records`), format);
      assert.deepEqual(await shownRecords(page), vigilReplay(scenario, format), `${scenario} ${format}`);
    }
  });
}

test('browser_hostile_input_and_a_hostile_link_render_only_as_text', async () => {
  const page = await open(server.url);
  const before = await page.evaluate(() => document.querySelectorAll('script, img, iframe, object').length);
  await pick(page, 'hostile');
  const ua = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
  const traffic = `{"vigil_traffic": 1}\n${JSON.stringify({ time: '2026-11-23T09:00:00Z', source: '203.0.113.1:1', request: { method: 'POST', path: '/login', headers: [['host', '<b>x</b>'], ['user-agent', ua]], body: 'username=<svg onload=alert(1)>' }, response: { status: 401 } })}`;
  const hostile = await page.evaluate(async ([p, t]) => (await import('./share.js')).encodeState({ policy: p, traffic: t, format: 'cef', scenario: '"><script>' }), ['{"version": 1, "x": "<img src=y onerror=alert(1)>"}', traffic]);
  const linked = await open(`${server.url}#${hostile}`, { results: false });
  assert.equal(await linked.$eval('#policy-errors li', (li) => li.dataset.path), 'x');
  assert.equal(await linked.inputValue('#traffic'), traffic);
  await linked.fill('#policy', '{"version": 1}');
  await linked.click('#run');
  const text = (await shownRecords(linked)).join('\n');
  assert.ok(text.includes('onerror'), 'the hostile text is shown, as text');
  for (const p of [page, linked]) {
    assert.equal(await p.evaluate(() => document.querySelectorAll('script, img, iframe, object').length), before);
    assert.equal(await p.evaluate(() => window.pwned), undefined);
  }
  assert.deepEqual(problems, []);
});

test('browser_a_link_that_decompresses_beyond_8_mib_is_refused', async () => {
  const page = await open(server.url);
  const bomb = await page.evaluate(async () => {
    const big = new Uint8Array(64 * 1024 * 1024).fill(32);
    const z = new Uint8Array(await new Response(new Blob([big]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer());
    let s = '';
    for (const b of z) s += String.fromCharCode(b);
    return 'v1.' + btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  });
  assert.ok(bomb.length < 200_000, `${bomb.length}`);
  const linked = await open(`${server.url}#${bomb}`);
  assert.equal(await linked.inputValue('#policy'), readFileSync(join(ROOT, 'web/policies/baseline.json'), 'utf8'));
  assert.deepEqual(problems, []);
});

test('browser_shared_link_warns_about_credentials_strips_them_and_restores_the_state', async () => {
  const page = await open(server.url);
  await pick(page, 'benign-morning');
  await page.selectOption('#format', 'owasp');
  await page.fill('#policy', '{"version": 1, "brute_force": {"enabled": true, "max_failures": 4, "window_seconds": 60, "slots": 1024}}');
  await page.click('#share');
  await page.waitForSelector('#share-dialog[open]');
  assert.match(await page.textContent('#share-warning'), /password field/);
  await page.click('#share-strip');
  await page.waitForFunction(() => document.querySelector('#share-link').value.includes('#v1.'));
  const link = await page.inputValue('#share-link');
  const policy = await page.inputValue('#policy');
  const traffic = await page.inputValue('#traffic');
  assert.ok(!traffic.includes('password=guess'), 'the password is stripped');
  const other = await open(link);
  assert.equal(await other.inputValue('#policy'), policy);
  assert.equal(await other.inputValue('#traffic'), traffic);
  assert.equal(await other.inputValue('#format'), 'owasp');
  assert.equal(await other.inputValue('#scenario'), 'benign-morning');
  assert.deepEqual(await shownRecords(other), await shownRecords(page));
});

test('browser_page_weight_and_time_to_first_result', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  let raw = 0;
  let gz = 0;
  page.on('response', async (r) => {
    try {
      const b = await r.body();
      raw += b.length;
      gz += gzipSync(b, { level: 9 }).length;
    } catch { /* redirects have no body */ }
  });
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.firstResultMs);
  const ms = Number(await page.evaluate(() => document.body.dataset.firstResultMs));
  await page.waitForTimeout(200);
  await pick(page, 'hostile');
  const replayMs = (await page.textContent('#status')).match(/\d+/)[0];
  console.log(`playground: page weight ${raw} bytes, ${gz} bytes gzip-compressed; first result ${ms} ms after navigation; the hostile scenario replays in ${replayMs} ms`);
  if (process.env.VIGIL_SCREENSHOT) {
    const shot = await open(server.url);
    await pick(shot, 'brute-force');
    await shot.screenshot({ path: join(ROOT, 'web/playground.png'), fullPage: false });
    console.log('playground: wrote web/playground.png');
  }
  assert.ok(ms < 10_000);
});

async function main() {
  server = await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // playwright gives every launch a fresh, temporary --user-data-dir of its own.
  });
  let passed = 0;
  let failed = 0;
  for (const t of tests) {
    problems = [];
    try {
      await t.fn();
      console.log(`test ${t.name} ... ok`);
      passed += 1;
    } catch (e) {
      console.log(`test ${t.name} ... FAILED\n${e.stack || e}`);
      failed += 1;
    }
  }
  await browser.close();
  server.proc.kill();
  console.log(`test result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed; 0 ignored; 0 measured; 0 filtered out`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => { console.log(`test result: FAILED. 0 passed; 1 failed (${e})`); process.exitCode = 1; if (server) server.proc.kill(); });
