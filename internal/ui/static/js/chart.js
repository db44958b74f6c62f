// The "alerts over time" chart: one bar per time bucket, stacked by
// priority (most severe at the bottom), drawn as inline SVG and redrawn
// when its box is resized.

import { clear, fmtNum, h, s } from './dom.js';
import { COLORS, PRIORITIES, canonical } from './priority.js';

const M = { top: 12, right: 12, bottom: 26, left: 44 };
const HEIGHT = 240;

// scale picks the y axis: a step of 1, 2 or 5 times a power of ten (at
// least 1) and at most 5 steps up to a top at or above max.
function scale(max) {
  if (max <= 0) return { top: 4, step: 1, n: 4 };
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw));
  const n = Math.ceil(max / step);
  return { top: n * step, step, n };
}

const pad = (n) => String(n).padStart(2, '0');

function tickLabel(d, bucketMs, spanMs) {
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (spanMs <= 36 * 3600e3 && bucketMs < 86400e3) return hm;
  const md = `${d.toLocaleString('en-US', { month: 'short' })} ${d.getDate()}`;
  return bucketMs >= 86400e3 || (d.getHours() === 0 && d.getMinutes() === 0) ? md : `${md} ${hm}`;
}

// series fills the gaps between the API's non-empty buckets with zeros,
// from the bucket holding `from` to the one holding `to` (ms).
export function series(buckets, bucketMs, from, to) {
  const byStart = new Map();
  for (const b of buckets || []) byStart.set(new Date(b.start).getTime(), b);
  const out = [];
  const first = Math.floor(from / bucketMs) * bucketMs;
  for (let t = first; t <= to && out.length < 2000; t += bucketMs) {
    const b = byStart.get(t);
    const by = {};
    for (const [k, v] of Object.entries((b && b.by_priority) || {})) by[canonical(k)] = (by[canonical(k)] || 0) + v;
    out.push({ start: t, count: b ? b.count : 0, by });
    byStart.delete(t);
  }
  // Buckets the range did not cover (clock skew): keep them, in order.
  for (const [t, b] of byStart) out.push({ start: t, count: b.count, by: b.by_priority || {} });
  out.sort((x, y) => x.start - y.start);
  return out;
}

// drawChart renders data (from series) into host; onPick(bucket) is called
// when a bar is clicked. It returns a function that stops the resize
// observer.
export function drawChart(host, data, bucketMs, onPick) {
  const tip = h('div.chart-tip', { hidden: true, role: 'tooltip' });
  const legend = h('div.legend');
  const svgHost = h('div.chart-svg');
  clear(host, svgHost, tip, legend);

  const present = PRIORITIES.filter((p) => data.some((d) => d.by[p]));
  clear(legend, (present.length ? present : PRIORITIES.slice(2, 6)).map((p) =>
    h('span.legend-item', h('span.swatch', { class: `p-${p.toLowerCase()}` }), p)));

  const draw = () => {
    const width = Math.max(320, Math.floor(host.clientWidth || 640));
    const iw = width - M.left - M.right;
    const ih = HEIGHT - M.top - M.bottom;
    const sc = scale(Math.max(0, ...data.map((d) => d.count)));
    const y = (v) => M.top + ih - (v / sc.top) * ih;
    const n = Math.max(1, data.length);
    const slot = iw / n;
    const bw = Math.max(1, Math.min(48, slot * 0.78));
    const svg = s('svg', {
      class: 'chart', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img',
      'aria-label': `Alerts over time, ${fmtNum(data.reduce((a, d) => a + d.count, 0))} in total`,
    });
    // Grid and y axis.
    for (let i = 0; i <= sc.n; i++) {
      const v = sc.step * i;
      const yy = Math.round(y(v)) + 0.5;
      svg.append(s('line', { class: i === 0 ? 'axis' : 'grid', x1: M.left, x2: width - M.right, y1: yy, y2: yy }));
      svg.append(s('text', { class: 'tick', x: M.left - 8, y: yy + 4, 'text-anchor': 'end' }, fmtNum(v)));
    }
    // X labels: about one per 90 px.
    const span = data.length ? data[data.length - 1].start - data[0].start + bucketMs : bucketMs;
    const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(iw / 90))));
    data.forEach((d, i) => {
      if (i % every !== 0) return;
      const x = M.left + slot * i + slot / 2;
      svg.append(s('text', { class: 'tick', x, y: HEIGHT - 8, 'text-anchor': 'middle' }, tickLabel(new Date(d.start), bucketMs, span)));
    });
    // Bars, most severe at the bottom.
    data.forEach((d, i) => {
      const x = M.left + slot * i + (slot - bw) / 2;
      const g = s('g', { class: 'bar', dataset: { start: String(d.start) } });
      let acc = 0;
      for (const p of PRIORITIES) {
        const v = d.by[p] || 0;
        if (!v) continue;
        const y0 = y(acc);
        const y1 = y(acc + v);
        g.append(s('rect', { x, y: y1, width: bw, height: Math.max(1, y0 - y1), fill: COLORS[p] }));
        acc += v;
      }
      // Counts without a priority breakdown still show.
      if (d.count > acc) {
        const y0 = y(acc);
        const y1 = y(d.count);
        g.append(s('rect', { x, y: y1, width: bw, height: Math.max(1, y0 - y1), fill: COLORS.Informational }));
      }
      // The hover target covers the whole slot.
      const hit = s('rect', { class: 'hit', x: M.left + slot * i, y: M.top, width: slot, height: ih, fill: 'transparent' });
      hit.addEventListener('mouseenter', () => showTip(d, x + bw / 2));
      hit.addEventListener('mouseleave', () => { tip.hidden = true; });
      if (onPick && d.count) {
        hit.classList.add('pickable');
        hit.addEventListener('click', () => onPick(d));
      }
      g.append(hit);
      svg.append(g);
    });
    clear(svgHost, svg);
  };

  function showTip(d, cx) {
    const end = new Date(d.start + bucketMs);
    const start = new Date(d.start);
    const fmt = (t) => `${t.toLocaleDateString('en-CA')} ${pad(t.getHours())}:${pad(t.getMinutes())}`;
    clear(tip,
      h('div.tip-title', `${fmt(start)} – ${pad(end.getHours())}:${pad(end.getMinutes())}`),
      h('div.tip-total', `${fmtNum(d.count)} alert${d.count === 1 ? '' : 's'}`),
      PRIORITIES.filter((p) => d.by[p]).map((p) => h('div.tip-row', h('span.swatch', { class: `p-${p.toLowerCase()}` }), `${p}: ${fmtNum(d.by[p])}`)),
      d.count && onPick ? h('div.tip-hint.muted', 'Click to see these alerts') : '');
    tip.hidden = false;
    const w = host.clientWidth;
    const left = Math.min(Math.max(0, cx - 90), Math.max(0, w - 190));
    tip.style.left = `${left}px`;
    tip.style.top = `${M.top}px`;
  }

  draw();
  let last = host.clientWidth;
  const ro = new ResizeObserver(() => {
    if (host.clientWidth !== last) {
      last = host.clientWidth;
      draw();
    }
  });
  ro.observe(host);
  return () => ro.disconnect();
}
