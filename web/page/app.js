// The playground page: editors, scenarios, runs of the engine (vigil-web, WebAssembly) and
// the results. Every text from the policy, the traffic or a link is shown with
// textContent or a form field's value, never parsed as markup.

import init, { check, replay } from './pkg/vigil_web.js';
import { drawChart } from './chart.js';
import { decodeState, encodeState, findCredentials, stripCredentials } from './share.js';

const SCENARIOS = [
  ['brute-force', 'Brute force'],
  ['credential-stuffing', 'Credential stuffing'],
  ['route-variant', 'Route variants'],
  ['expired-jwt', 'Expired JWT'],
  ['hostile', 'Hostile input'],
  ['benign-morning', 'A benign morning'],
];
const EXAMPLES = ['baseline', 'strict-brute-force', 'custom-rules'];
const $ = (id) => document.getElementById(id);
const scenarioText = new Map();
const exampleText = new Map();
let ready = false;

function setStatus(text, bad = false) {
  $('status').textContent = text;
  $('status').classList.toggle('bad', bad);
}

function lineCol(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return [line, offset - before.lastIndexOf('\n')];
}

// The mark under the policy editor: the token at the first error's offset.
function markAt(text, offset) {
  let end = offset;
  if (text[offset] === '"') {
    end = offset + 1;
    while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
    end += 1;
  } else {
    while (end < text.length && !',}]\n'.includes(text[end])) end += 1;
  }
  end = Math.max(end, offset + 1);
  $('policy-before').textContent = text.slice(0, offset);
  $('policy-mark').textContent = text.slice(offset, end);
  $('policy-after').textContent = text.slice(end) + '\n';
}

function clearMark(text) {
  $('policy-before').textContent = text + '\n';
  $('policy-mark').textContent = '';
  $('policy-after').textContent = '';
}

function checkPolicy() {
  const text = $('policy').value;
  const r = JSON.parse(check(text));
  const list = $('policy-errors');
  list.replaceChildren();
  if (r.ok) {
    clearMark(text);
    $('policy').removeAttribute('aria-invalid');
    $('explanation').textContent = r.explanation;
    return true;
  }
  $('policy').setAttribute('aria-invalid', 'true');
  markAt(text, r.errors[0].offset);
  for (const e of r.errors) {
    const li = document.createElement('li');
    const [line, col] = lineCol(text, e.offset);
    const path = document.createElement('code');
    path.textContent = e.path || '.';
    li.append(`${line}:${col} at `, path, `: ${e.problem}`);
    li.dataset.path = e.path;
    li.addEventListener('click', () => {
      $('policy').focus();
      $('policy').setSelectionRange(e.offset, e.offset);
    });
    list.append(li);
  }
  $('explanation').textContent = '';
  return false;
}

function describe(line) {
  try {
    const x = JSON.parse(line);
    const rq = x.request || {};
    const text = (v) => (typeof v === 'string' ? v : '(bytes)');
    return {
      head: `${text(rq.method || '')} ${text(rq.path || '(rejected by the codec)')} → ${x.response?.status}`,
      meta: `${x.time} from ${x.source}${x.envoy?.rejected_by ? `, answered by the ${x.envoy.rejected_by}` : ''}`,
      name: typeof x.name === 'string' ? x.name : '',
    };
  } catch {
    return { head: line.slice(0, 80), meta: '', name: '' };
  }
}

function badge(text, cls) {
  const b = document.createElement('span');
  b.className = `badge ${cls}`;
  b.textContent = text;
  return b;
}

function show(result, traffic) {
  const lines = traffic.split('\n');
  const list = $('exchanges');
  list.replaceChildren();
  const alerts = [];
  let events = 0;
  for (const x of result.exchanges) {
    const li = document.createElement('li');
    li.className = 'exchange';
    li.dataset.line = String(x.line);
    const d = describe(lines[x.line - 1] || '');
    const req = document.createElement('div');
    req.className = 'req';
    const head = document.createElement('div');
    head.textContent = `line ${x.line}: ${d.head}`;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = d.name ? `${d.name} · ${d.meta}` : d.meta;
    req.append(head, meta);
    if (result.series.length) {
      const det = document.createElement('div');
      det.className = 'meta detectors';
      det.textContent = 'after it: ' + result.series.map((s, i) => `${s.name} ${x.detectors[i]}/${s.threshold}`).join(', ');
      req.append(det);
    }
    const recs = document.createElement('div');
    recs.className = 'records';
    if (x.records.length === 0) recs.append(badge('no event', 'none'));
    x.actions.forEach((a, i) => {
      const isAlert = i > 0;
      recs.append(badge(`${a} · rule ${x.rules[i]}`, isAlert ? 'alert' : 'event'));
      if (isAlert) alerts.push(a);
      else events += 1;
    });
    for (const r of x.records) {
      const pre = document.createElement('pre');
      pre.className = 'record';
      pre.textContent = r;
      recs.append(pre);
    }
    li.append(req, recs);
    list.append(li);
  }
  drawChart($('chart'), result.series, result.exchanges.map((x) => x.detectors));
  $('notes').replaceChildren(...result.notes.map((n) => {
    const li = document.createElement('li');
    li.textContent = `Note: ${n}`;
    return li;
  }));
  $('summary').textContent = `${result.exchanges.length} exchanges, ${events} events, ${alerts.length} alerts` +
    (alerts.length ? ` (${[...new Set(alerts)].join(', ')})` : '') + `; ${result.format} records of the ${result.sink} sink.`;
  $('summary').dataset.alerts = String(alerts.length);
}

// A traffic error names its line (`traffic:3: …`): listed under the editor, the line
// selected in it.
function showTrafficError(traffic, error) {
  setStatus('The traffic has an error (see under the editor).', true);
  const m = error.match(/^traffic:(\d+): /);
  const li = document.createElement('li');
  li.textContent = m ? `line ${m[1]}: ${error.slice(m[0].length)}` : error;
  $('traffic-errors').append(li);
  $('traffic').setAttribute('aria-invalid', 'true');
  if (m) {
    const lines = traffic.split('\n');
    const n = Number(m[1]);
    const start = lines.slice(0, n - 1).reduce((a, l) => a + l.length + 1, 0);
    li.dataset.line = m[1];
    li.addEventListener('click', () => {
      $('traffic').focus();
      $('traffic').setSelectionRange(start, start + (lines[n - 1] || '').length);
    });
  }
}

function run() {
  if (!ready) return;
  const traffic = $('traffic').value;
  if (!checkPolicy()) {
    setStatus('The policy has errors (see under the editor).', true);
    return;
  }
  const t0 = performance.now();
  const r = JSON.parse(replay($('policy').value, traffic, $('format').value));
  $('traffic-errors').replaceChildren();
  $('traffic').removeAttribute('aria-invalid');
  if (!r.ok) {
    showTrafficError(traffic, r.error);
    $('exchanges').replaceChildren();
    return;
  }
  show(r, traffic);
  const ms = performance.now() - t0;
  setStatus(`Ran in ${ms.toFixed(0)} ms.`);
  if (!document.body.dataset.firstResultMs) {
    document.body.dataset.firstResultMs = performance.now().toFixed(0);
    $('timing').textContent = `First result ${document.body.dataset.firstResultMs} ms after the page started loading.`;
  }
}

async function loadScenario(name) {
  if (!scenarioText.has(name)) {
    const r = await fetch(`scenarios/${name}.traffic.jsonl`);
    if (!r.ok) throw new Error(`scenario ${name}: HTTP ${r.status}`);
    scenarioText.set(name, await r.text());
  }
  return scenarioText.get(name);
}

async function share() {
  const traffic = $('traffic').value;
  const creds = findCredentials(traffic);
  if (creds.length) {
    const shown = creds.slice(0, 6).join('; ') + (creds.length > 6 ? `; and ${creds.length - 6} more` : '');
    $('share-warning').textContent = `This traffic holds credentials (${shown}). Anyone with the link can read them.`;
    $('share-dialog').showModal();
    return;
  }
  await makeLink(traffic);
}

async function makeLink(traffic) {
  $('traffic').value = traffic;
  const state = { policy: $('policy').value, traffic, format: $('format').value, scenario: $('scenario').value };
  const frag = await encodeState(state);
  const url = `${location.origin}${location.pathname}#${frag}`;
  history.replaceState(null, '', `#${frag}`);
  $('share-link').value = url;
  $('share-out').hidden = false;
  $('share-link').select();
}

async function main() {
  for (const [id, label] of SCENARIOS) {
    const o = document.createElement('option');
    o.value = id;
    o.textContent = label;
    $('scenario').append(o);
  }
  // Everything the page needs is loaded now, so it works offline from here on.
  await Promise.all([
    init(),
    ...SCENARIOS.map(([id]) => loadScenario(id)),
    ...EXAMPLES.map(async (id) => {
      const r = await fetch(`policies/${id}.json`);
      if (!r.ok) throw new Error(`policy ${id}: HTTP ${r.status}`);
      exampleText.set(id, await r.text());
    }),
  ]);
  ready = true;
  $('run').disabled = false;
  $('share').disabled = false;
  const fromLink = await decodeState(location.hash.slice(1));
  if (fromLink) {
    if (SCENARIOS.some(([id]) => id === fromLink.scenario)) $('scenario').value = fromLink.scenario;
    if (['ecs', 'ocsf', 'cef', 'owasp'].includes(fromLink.format)) $('format').value = fromLink.format;
    $('policy').value = fromLink.policy;
    $('traffic').value = fromLink.traffic;
  } else {
    $('policy').value = exampleText.get('baseline');
    $('traffic').value = await loadScenario($('scenario').value);
  }
  document.body.dataset.ready = '1';
  run();
}

$('policy').addEventListener('input', () => checkPolicy());
$('policy').addEventListener('scroll', () => { document.querySelector('.backdrop').scrollTop = $('policy').scrollTop; });
$('run').addEventListener('click', run);
$('example').addEventListener('change', () => {
  $('policy').value = exampleText.get($('example').value) || '';
  run();
});
$('format').addEventListener('change', run);
$('scenario').addEventListener('change', async () => {
  $('traffic').value = await loadScenario($('scenario').value);
  run();
});
$('share').addEventListener('click', () => { share().catch((e) => setStatus(String(e), true)); });
$('share-strip').addEventListener('click', () => {
  $('share-dialog').close();
  makeLink(stripCredentials($('traffic').value)).then(run);
});
$('share-asis').addEventListener('click', () => { $('share-dialog').close(); makeLink($('traffic').value); });
$('share-cancel').addEventListener('click', () => $('share-dialog').close());
main().catch((e) => setStatus(`The playground could not start: ${e}`, true));
