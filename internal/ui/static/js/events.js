// The Events page: the filter bar, the live alert feed (a first page from
// GET /alerts, then each new alert from the SSE stream with the same
// filters) and paging with the cursor. A row opens the detail panel.

import { Stream, get, url, withQuery } from './api.js';
import { clear, fmtShort, fmtTime, h, toast } from './dom.js';
import { openDetail } from './detail.js';
import { FILTER_KEYS, LABELS, RANGES, filters } from './filters.js';
import { PRIORITIES, canonical, slug } from './priority.js';

const PAGE = 50;

// The fields of the form; other filters in the URL (tag, verb, resource,
// until, repeated values) show as removable chips.
const STATUSES = [
  ['', 'Any status'],
  ['open', 'Open'],
  ['open,acknowledged', 'Unresolved'],
  ['acknowledged', 'Acknowledged'],
  ['resolved', 'Resolved'],
];

export function fieldValue(rec, key) {
  const f = (rec.alert && rec.alert.fields || []).find((x) => x.key === key);
  if (!f || f.missing || !f.values || !f.values.length) return '';
  return f.values.join(', ');
}

export function priorityBadge(p) {
  const name = canonical(p);
  return h('span.badge.prio', { class: slug(name), title: `Priority: ${name}` }, name);
}

export function statusBadge(st) {
  const s = st || 'open';
  return h('span.badge.status', { class: `status-${s}` }, s);
}

export function mount(container, ctx) {
  const params = ctx.params;
  const f = filters(params);
  const order = params.get('order') === 'oldest' ? 'oldest' : 'newest';
  const state = {
    next: null, // cursor of the next page
    ids: new Set(), // alerts shown
    loading: false,
    stream: null,
    selected: params.get('alert') || '',
    loaded: false, opened: false, settled: false, // see settle
  };

  // --- filter bar -------------------------------------------------------
  const since = f.get('since') || '';
  const rangeOpts = RANGES.map(([v, label]) => h('option', { value: v, selected: v === since }, label));
  if (since && !RANGES.some(([v]) => v === since)) rangeOpts.push(h('option', { value: since, selected: true }, `Since ${since}`));
  if (!since) rangeOpts.unshift(h('option', { value: '', selected: true }, 'Any time'));
  const range = h('select', { id: 'f-since', name: 'since', 'aria-label': 'Time range' }, rangeOpts);

  const curPrio = f.get('priority') ? canonical(f.get('priority')) : '';
  const prio = h('select', { id: 'f-priority', name: 'priority', 'aria-label': 'Minimum priority' },
    h('option', { value: '' }, 'Any priority'),
    PRIORITIES.map((p) => h('option', { value: p.toLowerCase(), selected: p === curPrio }, p === 'Debug' ? 'Debug' : `${p}+`)));

  const curStatus = f.getAll('status').join(',');
  const statusOpts = STATUSES.map(([v, label]) => h('option', { value: v, selected: v === curStatus }, label));
  if (curStatus && !STATUSES.some(([v]) => v === curStatus)) statusOpts.push(h('option', { value: curStatus, selected: true }, curStatus));
  const status = h('select', { id: 'f-status', name: 'status', 'aria-label': 'Status' }, statusOpts);

  const text = (name, placeholder, list) => h('input', {
    id: `f-${name}`, name, type: 'search', placeholder, 'aria-label': LABELS[name],
    value: f.getAll(name).length === 1 ? f.get(name) : '', list, autocomplete: 'off', spellcheck: 'false',
  });
  const inputs = {
    rule: text('rule', 'Rule', 'dl-rules'),
    cluster: text('cluster', 'Cluster', 'dl-clusters'),
    namespace: text('namespace', 'Namespace'),
    user: text('user', 'User'),
    source_ip: text('source_ip', 'Source IP'),
    q: text('q', 'Search messages…'),
  };
  inputs.q.maxLength = 256; // the API's bound
  inputs.q.classList.add('grow');
  const dlRules = h('datalist', { id: 'dl-rules' });
  const dlClusters = h('datalist', { id: 'dl-clusters' });

  // Filters in the URL that the form does not edit, kept as chips.
  let extra = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const vs = f.getAll(k);
    if (['rule', 'cluster', 'namespace', 'user', 'source_ip', 'q'].includes(k) && vs.length <= 1) continue;
    if (['since', 'priority', 'status'].includes(k)) continue;
    for (const v of vs) extra.append(k, v);
  }

  function apply(patch = {}) {
    const p = new URLSearchParams();
    const set = (k, v) => { if (v) p.set(k, v); };
    set('since', range.value);
    set('priority', prio.value);
    for (const st of status.value.split(',').filter(Boolean)) p.append('status', st);
    for (const [k, el] of Object.entries(inputs)) set(k, el.value.trim());
    for (const [k, v] of extra) {
      if (!p.has(k) || ['rule', 'cluster', 'tag', 'status'].includes(k)) p.append(k, v);
    }
    for (const [k, v] of Object.entries(patch)) {
      p.delete(k);
      if (v) p.set(k, v);
    }
    if (order === 'oldest') p.set('order', 'oldest');
    ctx.navigate('/events?' + p.toString());
  }

  const chips = [];
  for (const [k, v] of extra) {
    chips.push(h('span.chip', `${LABELS[k] || k}: ${v}`, h('button.chip-x', {
      type: 'button', title: 'Remove this filter', 'aria-label': `Remove ${LABELS[k] || k} ${v}`,
      onclick: () => {
        const rest = new URLSearchParams();
        for (const [k2, v2] of extra) if (k2 !== k || v2 !== v) rest.append(k2, v2);
        extra = rest;
        apply();
      },
    }, '×')));
  }

  const form = h('form.filters', {
    id: 'filters',
    role: 'search',
    onsubmit: (e) => { e.preventDefault(); apply(); },
  },
  h('div.filter-row', range, prio, status, inputs.rule, inputs.cluster, inputs.namespace, inputs.user, inputs.source_ip),
  h('div.filter-row', inputs.q,
    h('button.btn.btn-primary', { type: 'submit', id: 'f-apply' }, 'Apply'),
    h('button.btn', { type: 'button', onclick: () => ctx.navigate('/events') }, 'Reset')),
  chips.length ? h('div.filter-row.chips', chips) : null,
  dlRules, dlClusters);
  for (const sel of [range, prio, status]) sel.addEventListener('change', () => apply());

  // --- header ------------------------------------------------------------
  const live = h('span.live', { id: 'live', class: 'live-connecting', title: 'Live updates' }, h('span.live-dot'), h('span.live-text', 'Connecting'));
  const exportParams = (format) => {
    const p = new URLSearchParams(f);
    p.set('format', format);
    if (order === 'oldest') p.set('order', 'oldest');
    return url('/export', p);
  };
  const header = h('header.page-head',
    h('div', h('h1', 'Events'), h('p.muted.sub', { id: 'events-summary' }, 'Loading…')),
    h('div.head-actions', live,
      h('a.btn.btn-small', { id: 'export-jsonl', href: exportParams('jsonl'), download: true }, 'Export JSONL'),
      h('a.btn.btn-small', { id: 'export-csv', href: exportParams('csv'), download: true }, 'Export CSV')));

  // --- table ---------------------------------------------------------------
  const tbody = h('tbody', { id: 'events-body' });
  const table = h('table.grid.events', { id: 'events-table' },
    h('thead', h('tr',
      h('th.c-time', { scope: 'col' }, order === 'oldest' ? 'Time ↑' : 'Time ↓'),
      h('th.c-prio', { scope: 'col' }, 'Priority'),
      h('th.c-rule', { scope: 'col' }, 'Rule'),
      h('th.c-msg', { scope: 'col' }, 'Message'),
      h('th', { scope: 'col' }, 'Cluster'),
      h('th', { scope: 'col' }, 'Namespace'),
      h('th', { scope: 'col' }, 'User'),
      h('th.c-status', { scope: 'col' }, 'Status'))),
    tbody);
  const empty = h('div.empty', { id: 'events-empty', hidden: true }, h('h2', 'No alerts'),
    h('p.muted', 'No alert matches these filters in this time range. New ones will appear here as they arrive.'));
  const more = h('button.btn', { id: 'load-more', type: 'button', hidden: true, onclick: () => load(false) }, 'Load more');
  const footer = h('div.table-foot', more);
  const panel = h('div.detail-host');

  clear(container, header, form, h('div.card.table-card', h('div.table-scroll', table), empty, footer), panel);

  // Suggestions for the rule and cluster inputs (best effort).
  get('/rules').then((d) => {
    clear(dlRules, (d.rules || []).map((r) => h('option', { value: r.name })));
  }).catch(() => {});
  get('/clusters').then((d) => {
    clear(dlClusters, (d.clusters || []).map((c) => h('option', { value: c.name })));
  }).catch(() => {});

  function row(rec, fresh) {
    const st = rec.triage && rec.triage.status || 'open';
    const ns = fieldValue(rec, 'ka.target.namespace');
    const user = fieldValue(rec, 'ka.user.name');
    const tr = h('tr.row', {
      tabindex: '0',
      dataset: { id: rec.id, status: st },
      class: [fresh && 'fresh', rec.id === state.selected && 'selected'],
      onclick: () => select(rec.id),
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(rec.id); } },
    },
    h('td.c-time.mono', { title: fmtTime(rec.alert.time, true) }, fmtShort(rec.alert.time)),
    h('td.c-prio', priorityBadge(rec.alert.priority)),
    h('td.c-rule', { title: rec.alert.rule }, rec.alert.rule),
    h('td.c-msg', { title: rec.alert.message }, rec.alert.message),
    h('td', rec.cluster || '—'),
    h('td.c-ns', { title: ns }, ns || '—'),
    h('td.c-user', { title: user }, user || '—'),
    h('td.c-status', statusBadge(st)));
    if (fresh) tr.addEventListener('animationend', () => tr.classList.remove('fresh'), { once: true });
    return tr;
  }

  const summary = () => {
    const el = document.getElementById('events-summary');
    if (!el) return;
    const n = state.ids.size;
    el.textContent = state.error && !n ? 'Could not load the alerts'
      : `${n.toLocaleString('en-US')} alert${n === 1 ? '' : 's'} shown${state.next ? ' (more available)' : ''}`;
    empty.hidden = n > 0;
    table.hidden = n === 0;
  };

  async function load(first) {
    if (state.loading) return;
    state.loading = true;
    more.disabled = true;
    more.textContent = 'Loading…';
    const p = new URLSearchParams(f);
    p.set('limit', String(PAGE));
    if (order === 'oldest') p.set('order', 'oldest');
    if (!first && state.next) p.set('cursor', state.next);
    try {
      const d = await get(withQuery('/alerts', p));
      // Alerts the stream delivered meanwhile are already at the top.
      const frag = document.createDocumentFragment();
      for (const rec of d.alerts || []) {
        if (state.ids.has(rec.id)) continue;
        state.ids.add(rec.id);
        frag.append(row(rec, false));
      }
      tbody.append(frag);
      state.next = d.next || null;
      if (first) {
        state.loaded = true;
        settle();
      }
    } catch (e) {
      if (e.status !== 401) toast(`Could not load alerts: ${e.message}`);
      if (first) {
        state.error = e.message;
        clear(empty, h('h2', 'Could not load the alerts'), h('p.form-error', e.message));
        // The server refuses these filters: the stream would too.
        if (e.status === 400 && state.stream) {
          state.stream.close();
          state.stream = null;
          setLive('paused', 'Paused', e.message);
        }
      }
    } finally {
      state.loading = false;
      more.disabled = false;
      more.textContent = 'Load more';
      more.hidden = !state.next;
      summary();
    }
  }

  // catchUp fetches the newest page again after the stream was broken and
  // adds what arrived meanwhile.
  async function catchUp() {
    if (order !== 'newest') return;
    const p = new URLSearchParams(f);
    p.set('limit', String(PAGE));
    try {
      const d = await get(withQuery('/alerts', p));
      const fresh = (d.alerts || []).filter((r) => !state.ids.has(r.id));
      for (const rec of fresh.reverse()) prepend(rec);
    } catch { /* the next reconnect tries again */ }
  }

  // settle closes the gap between the first page and the stream: an alert
  // stored after the page was read but before the stream was subscribed
  // is in neither, so read the newest page once both are there.
  function settle() {
    if (state.loaded && state.opened && !state.settled) {
      state.settled = true;
      catchUp();
    }
  }

  function setLive(cls, text, title) {
    live.className = `live live-${cls}`;
    live.querySelector('.live-text').textContent = text;
    live.title = title;
  }

  function prepend(rec) {
    if (!rec || !rec.id || state.ids.has(rec.id)) return;
    state.ids.add(rec.id);
    tbody.prepend(row(rec, true));
    summary();
  }

  function select(id) {
    state.selected = id;
    for (const tr of tbody.querySelectorAll('tr.selected')) tr.classList.remove('selected');
    const tr = tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
    if (tr) tr.classList.add('selected');
    const p = new URLSearchParams(location.search);
    if (id) p.set('alert', id);
    else p.delete('alert');
    const q = p.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
    if (!id) {
      panel.replaceChildren();
      return;
    }
    openDetail(panel, id, {
      can: ctx.can,
      session: ctx.session,
      filterLink: (key, value) => {
        const p2 = new URLSearchParams(f);
        p2.set(key, value);
        return '/events?' + p2.toString();
      },
      onClose: () => select(''),
      onChange: (rec) => {
        const old = tbody.querySelector(`tr[data-id="${CSS.escape(rec.id)}"]`);
        if (old) {
          const tr = row(rec, false);
          old.replaceWith(tr);
        }
      },
    });
  }

  function onKey(e) {
    if (e.key === 'Escape' && state.selected && !e.target.closest('input, textarea, select')) select('');
  }
  document.addEventListener('keydown', onKey);

  const streamParams = new URLSearchParams(f);
  if (order === 'newest' && !f.has('until')) {
    state.stream = new Stream(streamParams, {
      onAlert: prepend,
      onReconnect: catchUp,
      onDropped: (n) => {
        toast(`The live feed skipped ${n} alert${n === 1 ? '' : 's'} (too many at once); reloading the newest`, 'ok');
        catchUp();
      },
      onState: (s) => {
        setLive(s, { connecting: 'Connecting', live: 'Live', down: 'Offline' }[s] || s,
          { connecting: 'Connecting to the live feed', live: 'New alerts appear as they arrive', down: 'The live feed is down; retrying' }[s] || '');
        if (s === 'live' && !state.opened) {
          state.opened = true;
          settle();
        }
      },
    });
  } else {
    setLive('paused', 'Paused', 'Live updates are off for a fixed time range or oldest-first order');
  }

  load(true).then(() => {
    if (state.selected) select(state.selected);
  });

  return () => {
    if (state.stream) state.stream.close();
    document.removeEventListener('keydown', onKey);
  };
}

