// Shareable links: policy, traffic, format and scenario in the URL fragment (deflated,
// base64url), never sent anywhere. A link is attacker-made input: decoding failures give
// an empty state, and every value only ever goes into form fields and textContent.

const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'];
const PASSWORD_FORM = /(^|&)(password|passwd|pwd|pass|secret|client_secret)=[^&]*/gi;
const PASSWORD_JSON = /("(?:password|passwd|pwd|pass|secret|client_secret)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

function b64urlEncode(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function b64urlDecode(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

// The most a link may decompress to: a link is attacker-made, and a few kilobytes of
// deflate can claim gigabytes.
const MAX_STATE_BYTES = 8 * 1024 * 1024;

async function pipe(bytes, stream) {
  const reader = new Blob([bytes]).stream().pipeThrough(stream).getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > MAX_STATE_BYTES) {
      await reader.cancel();
      throw new Error('the link holds more than 8 MiB');
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The fragment (without `#`) for a state {policy, traffic, format, scenario}. */
export async function encodeState(state) {
  const json = new TextEncoder().encode(JSON.stringify(state));
  return 'v1.' + b64urlEncode(await pipe(json, new CompressionStream('deflate-raw')));
}

/** The state in a fragment, or null when it is not one of ours (or malformed). */
export async function decodeState(fragment) {
  if (!fragment.startsWith('v1.') || fragment.length > 4_000_000) return null;
  try {
    const bytes = await pipe(b64urlDecode(fragment.slice(3)), new DecompressionStream('deflate-raw'));
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof v !== 'object' || v === null) return null;
    const str = (x) => (typeof x === 'string' ? x : '');
    return { policy: str(v.policy), traffic: str(v.traffic), format: str(v.format), scenario: str(v.scenario) };
  } catch {
    return null;
  }
}

function bodyText(v) {
  if (typeof v === 'string') return v;
  if (v && typeof v.base64 === 'string') {
    try { return atob(v.base64); } catch { return ''; }
  }
  return '';
}

function stripBody(v) {
  const strip = (t) => t.replace(PASSWORD_FORM, '$1$2=REDACTED').replace(PASSWORD_JSON, '$1"REDACTED"');
  if (typeof v === 'string') return strip(v);
  if (v && typeof v.base64 === 'string') {
    try { return { base64: btoa(strip(atob(v.base64))) }; } catch { return v; }
  }
  return v;
}

function bodies(b) {
  return Array.isArray(b) ? b : b === undefined ? [] : [b];
}

/** What credentials a traffic text holds: a list of findings ("line 3: authorization header"). */
export function findCredentials(traffic) {
  const found = [];
  traffic.split('\n').forEach((line, i) => {
    let x;
    try { x = JSON.parse(line); } catch { return; }
    const rq = x && x.request;
    if (!rq || typeof rq !== 'object') return;
    for (const h of Array.isArray(rq.headers) ? rq.headers : []) {
      const name = Array.isArray(h) && typeof h[0] === 'string' ? h[0].toLowerCase() : '';
      if (CREDENTIAL_HEADERS.includes(name)) found.push(`line ${i + 1}: ${name} header`);
    }
    for (const b of bodies(rq.body)) {
      const t = bodyText(b);
      PASSWORD_FORM.lastIndex = 0;
      PASSWORD_JSON.lastIndex = 0;
      if (PASSWORD_FORM.test(t) || PASSWORD_JSON.test(t)) found.push(`line ${i + 1}: password field`);
    }
  });
  return found;
}

/** The traffic without credential headers, with password fields replaced by REDACTED. */
export function stripCredentials(traffic) {
  return traffic.split('\n').map((line) => {
    let x;
    try { x = JSON.parse(line); } catch { return line; }
    const rq = x && x.request;
    if (!rq || typeof rq !== 'object') return line;
    if (Array.isArray(rq.headers)) {
      rq.headers = rq.headers.filter((h) => !(Array.isArray(h) && typeof h[0] === 'string' && CREDENTIAL_HEADERS.includes(h[0].toLowerCase())));
    }
    if (Array.isArray(rq.body)) rq.body = rq.body.map(stripBody);
    else if (rq.body !== undefined) rq.body = stripBody(rq.body);
    return JSON.stringify(x);
  }).join('\n');
}
