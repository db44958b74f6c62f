// The Overview page: alerts over time by priority, the most frequent rules,
// users, namespaces and clusters (each a link to Events filtered by it),
// and the ingest health of each cluster. It refreshes every 30 seconds.

import { get, withQuery } from './api.js';
import { drawChart, series } from './chart.js';
import { clear, fmtAgo, fmtNum, fmtRate, fmtTime, h } from './dom.js';
import { RANGES, filters } from './filters.js';
import { PRIORITIES } from './priority.js';

const REFRESH_MS = 30000;

// BUCKETS gives each preset range a bucket width (the API's bucket
// parameter) that draws 12 to 30 bars.
const BUCKETS = { '1h': ['5m', 5 * 60e3], '24h': ['1h', 3600e3], '168h': ['6h', 6 * 3600e3], '720h': ['24h', 86400e3] };

const TOPS = [
  ['rule', 'Top rules'],
  ['user', 'Top users'],
  ['namespace', 'Top namespaces'],
  ['cluster', 'Top clusters'],
];

function parseDuration(v) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v || '');
  if (!m) return 0;
  return Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[m[2]];
}

// bucketFor picks the bucket for an arbitrary span: about 24 bars.
function bucketFor(spanMs) {
  const steps = [[60e3, '1m'], [5 * 60e3, '5m'], [15 * 60e3, '15m'], [3600e3, '1h'], [3 * 3600e3, '3h'], [6 * 3600e3, '6h'], [86400e3, '24h']];
  for (const [ms, name] of steps) {
    if (spanMs / ms <= 36) return [name, ms];
  }
  return ['24h', 86400e3];
}

export function mount(container, ctx) {
  const f = filters(ctx.params);
  const since = f.get('since') || '';
  let timer = null;
  let stopChart = null;
  let gone = false;

  const range = h('select', { id: 'o-since', 'aria-label': 'Time range' },
    RANGES.map(([v, label]) => h('option', { value: v, selected: v === since }, label)),
    since && !RANGES.some(([v]) => v === since) ? h('option', { value: since, selected: true }, `Since ${since}`) : '');
  range.addEventListener('change', () => {
    const p = new URLSearchParams(f);
    p.set('since', range.value);
    ctx.navigate('/overview?' + p.toString());
  });

  const updated = h('span.muted.small', { id: 'o-updated' });
  const cards = h('div.cards', { id: 'o-cards' });
  const chartHost = h('div.chart-host', { id: 'o-chart' }, h('p.muted', 'Loading…'));
  const tops = h('div.tops', { id: 'o-tops' });
  const clusters = h('div', { id: 'o-clusters' }, h('p.muted', 'Loading…'));

  clear(container,
    h('header.page-head',
      h('div', h('h1', 'Overview'), h('p.muted.sub', 'What Vigil has seen, and from where')),
      h('div.head-actions', updated, range)),
    cards,
    h('div.card', h('div.card-head', h('h2', 'Alerts over time'), h('span.muted.small', 'stacked by priority')), chartHost),
    tops,
    h('div.card', h('div.card-head', h('h2', 'Cluster ingest health')), clusters));

  function card(label, value, cls, hint) {
    return h('div.stat', { class: cls || '' }, h('div.stat-label', label), h('div.stat-value', value), hint ? h('div.stat-hint.muted', hint) : '');
  }

  function topTable(key, title, items) {
    const max = Math.max(1, ...items.map((i) => i.count));
    return h('div.card.top', { id: `top-${key}` },
      h('div.card-head', h('h2', title)),
      items.length ? h('table.grid.compact', h('tbody', items.map((it) => {
        const p = new URLSearchParams(f);
        p.set(key, it.value);
        const bar = h('span.top-bar');
        bar.style.width = `${Math.max(2, (it.count / max) * 100)}%`;
        return h('tr',
          h('td.top-name', h('a', { href: '/events?' + p.toString(), title: `Show these alerts in Events` }, it.value || '(none)'), h('span.top-track', bar)),
          h('td.num', fmtNum(it.count)));
      }))) : h('p.muted.pad', 'Nothing in this range.'));
  }

  function health(c) {
    const last = c.last_seen ? new Date(c.last_seen).getTime() : 0;
    const age = last > 0 ? Date.now() - last : Infinity;
    if (age < 5 * 60e3) return ['ok', 'Receiving'];
    if (age < 3600e3) return ['warn', 'Quiet'];
    return ['bad', last > 0 ? 'Silent' : 'Never seen'];
  }

  // rejectsCell shows the rejected events: a count, or counts by reason.
  function rejectsCell(r) {
    if (r && typeof r === 'object') {
      const entries = Object.entries(r).filter(([, v]) => v);
      const total = entries.reduce((a, [, v]) => a + v, 0);
      return h('td.num', { class: total ? 'warn-text' : '', title: entries.map(([k, v]) => `${k}: ${v}`).join('\n') }, fmtNum(total));
    }
    return h('td.num', { class: r ? 'warn-text' : '' }, fmtNum(r || 0));
  }

  async function refresh() {
    const p = new URLSearchParams(f);
    let bucket = BUCKETS[since];
    const now = Date.now();
    let from = now - (parseDuration(since) || 86400e3);
    if (!bucket) {
      const t = Date.parse(since);
      if (!isNaN(t)) from = t;
      bucket = bucketFor(now - from);
    }
    p.set('bucket', bucket[0]);
    p.set('top', '10');
    const [sum, cl] = await Promise.allSettled([get(withQuery('/summary', p)), get('/clusters')]);
    if (gone) return;
    if (sum.status === 'fulfilled') {
      const d = sum.value || {};
      const data = series(d.buckets || [], bucket[1], from, now);
      const by = {};
      for (const b of data) for (const [k, v] of Object.entries(b.by)) by[k] = (by[k] || 0) + v;
      const sev = PRIORITIES.slice(0, 3).reduce((a, k) => a + (by[k] || 0), 0);
      const mid = (by.Error || 0) + (by.Warning || 0);
      const topRule = ((d.top || {}).rule || [])[0];
      clear(cards,
        card('Alerts', fmtNum(d.total || 0), '', RANGES.find(([v]) => v === since)?.[1] || `since ${since}`),
        card('Critical or worse', fmtNum(sev), sev ? 'stat-crit' : ''),
        card('Error and warning', fmtNum(mid), mid ? 'stat-warn' : ''),
        card('Most frequent rule', topRule ? topRule.value : '—', 'stat-text', topRule ? `${fmtNum(topRule.count)} alerts` : ''));
      if (stopChart) stopChart();
      stopChart = drawChart(chartHost, data, bucket[1], (b) => {
        const q = new URLSearchParams(f);
        q.set('since', new Date(b.start).toISOString());
        q.set('until', new Date(b.start + bucket[1]).toISOString());
        ctx.navigate('/events?' + q.toString());
      });
      clear(tops, TOPS.map(([k, title]) => topTable(k, title, (d.top || {})[k] || [])));
    } else {
      clear(chartHost, h('p.form-error', `Could not load the summary: ${sum.reason.message}`));
    }
    if (cl.status === 'fulfilled') {
      const list = (cl.value && cl.value.clusters) || [];
      clear(clusters, list.length ? h('table.grid', { id: 'clusters-table' },
        h('thead', h('tr', ['Cluster', 'Health', 'Events', 'Events/s', 'Last event', 'Rejected'].map((t, i) => h('th', { scope: 'col', class: i >= 2 ? 'num' : '' }, t)))),
        h('tbody', list.map((c) => {
          const [cls, label] = health(c);
          return h('tr',
            h('td', h('a', { href: `/events?cluster=${encodeURIComponent(c.name)}` }, c.name)),
            h('td', h('span.health', { class: `health-${cls}` }, h('span.health-dot'), label)),
            h('td.num', fmtNum(c.events_total)),
            h('td.num', fmtRate(c.events_per_second)),
            h('td.num', { title: c.last_seen ? fmtTime(c.last_seen) : '' }, fmtAgo(c.last_seen)),
            rejectsCell(c.rejects));
        }))) : h('p.muted.pad', 'No cluster has sent events yet.'));
    } else {
      clear(clusters, h('p.form-error', `Could not load the clusters: ${cl.reason.message}`));
    }
    updated.textContent = `Updated ${fmtTime(new Date()).slice(11)}`;
  }

  const loop = async () => {
    await refresh();
    if (!gone) timer = setTimeout(loop, REFRESH_MS);
  };
  loop();

  return () => {
    gone = true;
    clearTimeout(timer);
    if (stopChart) stopChart();
  };
}
