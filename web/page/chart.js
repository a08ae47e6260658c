// Each detector's count over the exchanges, as a small SVG line chart with its threshold.
// Built with DOM calls only (no markup strings).

const NS = 'http://www.w3.org/2000/svg';
const W = 260;
const H = 90;

function el(name, attrs) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Draws `series` ([{name, threshold}]) over `counts` (per exchange, one array each) into `box`. */
export function drawChart(box, series, counts) {
  box.replaceChildren();
  series.forEach((s, i) => {
    const values = counts.map((c) => c[i] ?? 0);
    const top = Math.max(s.threshold + 1, ...values, 1);
    const x = (j) => (values.length <= 1 ? W / 2 : 4 + (j * (W - 8)) / (values.length - 1));
    const y = (v) => H - 4 - (v * (H - 8)) / top;
    const svg = el('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img' });
    const title = el('title', {});
    title.textContent = `${s.name}: alert above ${s.threshold}`;
    svg.append(title);
    svg.append(el('line', { x1: 0, x2: W, y1: y(s.threshold), y2: y(s.threshold), stroke: '#c8321e', 'stroke-dasharray': '4 3' }));
    svg.append(el('polyline', { points: values.map((v, j) => `${x(j)},${y(v)}`).join(' '), fill: 'none', stroke: '#2f5bd3', 'stroke-width': 2 }));
    values.forEach((v, j) => {
      if (v > s.threshold) svg.append(el('circle', { cx: x(j), cy: y(v), r: 3, fill: '#c8321e' }));
    });
    const fig = document.createElement('figure');
    fig.className = 'detector';
    fig.dataset.name = s.name;
    fig.dataset.max = String(Math.max(0, ...values));
    const cap = document.createElement('figcaption');
    cap.textContent = `${s.name} (max ${Math.max(0, ...values)}; alert above ${s.threshold})`;
    fig.append(svg, cap);
    box.append(fig);
  });
}
