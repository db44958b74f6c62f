// The alert detail panel: who, what, when and where from the audit event,
// the rule's message, tags and output fields, the raw event, triage
// (acknowledge, resolve, assignee), comments and the exception YAML.

import { APIError, enc, get, patch, post, withQuery } from './api.js';
import { clear, copyText, fmtAgo, fmtTime, h, toast } from './dom.js';
import { canonical, slug } from './priority.js';

let seq = 0; // the latest openDetail call; older loads are dropped

// What the roles of source IPs mean (Record.where.ips[].role).
const ROLE_HELP = {
  proxy: 'A trusted proxy the request came through',
  forwarded: 'Claimed by a forwarding header, before the client: not verified',
  invalid: 'Not an IP address: not verified',
};
const SOURCES = { network_map: 'the network map', geoip: 'GeoIP' };

// openDetail loads the alert id and shows it in host. opts: can (the
// role's permissions), session, filterLink(key, value) → URL, onClose(),
// onChange(record) after a triage change.
export async function openDetail(host, id, opts) {
  const my = ++seq;
  const closeBtn = h('button.icon-btn.detail-close', { type: 'button', title: 'Close (Esc)', 'aria-label': 'Close', onclick: opts.onClose }, '×');
  const panel = h('aside.detail', { id: 'detail', role: 'dialog', 'aria-label': 'Alert detail', dataset: { id } },
    h('div.detail-head', h('div.detail-title', h('span.muted', 'Loading alert…')), closeBtn));
  clear(host, panel);
  let rec;
  try {
    rec = await get(`/alerts/${enc(id)}`);
  } catch (e) {
    if (my !== seq) return;
    panel.append(h('div.detail-body', h('p.form-error', `Could not load the alert: ${e.message}`)));
    return;
  }
  if (my !== seq) return;
  render(panel, rec, opts, closeBtn);
  closeBtn.focus({ preventScroll: true });
}

// kv renders a definition list from [label, value] pairs, skipping empty values.
function kv(pairs) {
  const items = pairs.filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length));
  if (!items.length) return h('p.muted', 'Not in the event.');
  return h('dl.kv', items.map(([k, v]) => [h('dt', k), h('dd', v)]));
}

function section(title, ...body) {
  return h('section.detail-section', { id: `detail-${title.toLowerCase().replace(/\W+/g, '-')}` }, h('h3', title), ...body);
}

const mono = (v) => (v === undefined || v === null || v === '' ? '' : h('span.mono', String(v)));

function field(rec, key) {
  const f = (rec.alert.fields || []).find((x) => x.key === key);
  if (!f || f.missing || !f.values || !f.values.length) return '';
  return f.values.join(', ');
}

function render(panel, rec, opts, closeBtn) {
  const a = rec.alert;
  const ev = rec.event && typeof rec.event === 'object' ? rec.event : null;
  const link = (key, value, label) => (value ? h('a.filter-link', { href: opts.filterLink(key, value), title: `Show alerts with ${key} ${value}` }, label || value) : '');

  // Who
  const u = (ev && ev.user) || {};
  const imp = (ev && ev.impersonatedUser) || null;
  const userName = u.username || field(rec, 'ka.user.name');
  const who = kv([
    ['User', userName ? link('user', userName) : ''],
    ['Groups', (u.groups || []).length ? h('span.chips', u.groups.map((g) => h('span.chip', g))) : ''],
    ['Impersonated', imp ? h('span', mono(imp.username), (imp.groups || []).length ? h('span.muted', ` (${imp.groups.join(', ')})`) : '') : mono(field(rec, 'ka.impuser.name'))],
    ['User agent', mono((ev && ev.userAgent) || field(rec, 'ka.useragent'))],
  ]);

  // What
  const obj = (ev && ev.objectRef) || {};
  const resource = obj.resource || field(rec, 'ka.target.resource');
  const sub = obj.subresource || field(rec, 'ka.target.subresource');
  const ns = obj.namespace || field(rec, 'ka.target.namespace');
  const name = obj.name || field(rec, 'ka.target.name');
  const ann = (ev && ev.annotations) || {};
  const code = ev && ev.responseStatus ? ev.responseStatus.code : field(rec, 'ka.response.code');
  const decision = ann['authorization.k8s.io/decision'];
  const what = kv([
    ['Verb', mono((ev && ev.verb) || field(rec, 'ka.verb'))],
    ['Resource', resource ? mono(sub ? `${resource}/${sub}` : resource) : ''],
    ['Object', ns || name ? h('span', ns ? link('namespace', ns) : h('span.muted', '(cluster)'), name ? h('span.mono', ` / ${name}`) : '') : ''],
    ['API group', obj.apiGroup ? mono(`${obj.apiGroup}/${obj.apiVersion || ''}`) : ''],
    ['Request URI', mono(ev && ev.requestURI)],
    ['Response', code ? h('span', h('span.badge.code', { class: Number(code) >= 400 ? 'code-bad' : 'code-ok' }, String(code)),
      ev && ev.responseStatus && ev.responseStatus.reason ? h('span.muted', ` ${ev.responseStatus.reason}`) : '') : ''],
    ['Authorization', decision ? h('span', h('span.badge', { class: decision === 'allow' ? 'code-ok' : 'code-bad' }, decision),
      ann['authorization.k8s.io/reason'] ? h('span.muted', ` ${ann['authorization.k8s.io/reason']}`) : '') : ''],
  ]);

  // When
  const recv = ev && ev.requestReceivedTimestamp;
  const stageTs = ev && ev.stageTimestamp;
  let latency = '';
  if (recv && stageTs) {
    const ms = new Date(stageTs) - new Date(recv);
    if (isFinite(ms)) latency = `${ms} ms`;
  }
  const when = kv([
    ['Event time', fmtTime(a.time, true)],
    ['Stage', mono(rec.stage || (ev && ev.stage))],
    ['Request received', recv ? fmtTime(recv, true) : ''],
    ['Stage reached', stageTs ? fmtTime(stageTs, true) : ''],
    ['API server latency', latency],
    ['Received by Vigil', rec.received ? `${fmtTime(rec.received, true)} (${fmtAgo(rec.received)})` : ''],
  ]);

  // Where
  const where = rec.where || null;
  let ips = where && Array.isArray(where.ips) && where.ips.length ? where.ips : ((ev && ev.sourceIPs) || []).map((addr) => ({ addr }));
  const ipList = ips.length ? h('ul.ips', ips.map((ip) => {
    const trusted = ip.trusted || (where && where.trusted && ip.addr === where.client_ip);
    const loc = [ip.city, ip.region, ip.country].filter(Boolean).join(', ');
    const asn = ip.asn ? (String(ip.asn).toUpperCase().startsWith('AS') ? String(ip.asn) : `AS${ip.asn}`) : '';
    const owner = [asn, ip.org].filter(Boolean).join(' ');
    return h('li.ip', { class: trusted ? 'ip-trusted' : '' },
      h('div.ip-line', link('source_ip', ip.addr, h('span.mono', ip.addr)),
        where && ip.addr === where.client_ip ? h('span.badge.tag-client', { title: 'The client address Vigil attributes the request to' }, 'client') : '',
        trusted ? h('span.badge.tag-trusted', { title: 'Observed or reported by trusted proxies, not only claimed by a header' }, 'trusted') : '',
        ip.role && ip.role !== 'client' ? h('span.badge.tag-role', { class: ip.role === 'invalid' ? 'code-bad' : '', title: ROLE_HELP[ip.role] || '' }, ip.role) : ''),
      loc || owner || ip.network ? h('div.ip-meta.muted',
        [ip.network && `network ${ip.network}`, loc && `${loc}${ip.country_code ? ` (${ip.country_code})` : ''}`, owner,
          ip.source && `from ${SOURCES[ip.source] || ip.source}`]
          .filter(Boolean).join(' · ')) : '');
  })) : '';
  const omitted = where && where.omitted ? h('div.muted.small', `${where.omitted} earlier address${where.omitted === 1 ? '' : 'es'} not kept`) : '';
  const whereBlock = kv([
    ['Cluster', link('cluster', rec.cluster)],
    ['Capture', rec.capture],
    ['Audit ID', mono(rec.audit_id)],
    ['Source IPs', ipList ? h('div', ipList, omitted) : mono(field(rec, 'ka.sourceips'))],
  ]);

  // Output fields
  const fields = (a.fields || []).length ? h('table.fields', h('tbody', a.fields.map((f) => h('tr',
    h('th.mono', f.key),
    h('td.mono', f.missing ? h('span.muted', '<NA>') : (f.values || []).join(', ')))))) : h('p.muted', 'None.');

  // Raw event
  let raw;
  if (ev) {
    raw = h('details.raw', h('summary', 'Raw audit event'),
      h('div.raw-tools', h('button.btn.btn-small', { type: 'button', onclick: async () => toast(await copyText(JSON.stringify(ev, null, 2)) ? 'Copied the event' : 'Copy failed', 'ok') }, 'Copy JSON')),
      h('pre.code', { id: 'raw-event' }, JSON.stringify(ev, null, 2)));
  } else {
    raw = h('p.muted', rec.event_omitted ? 'The event was too large to keep with the alert.' : 'The event is not stored.');
  }

  const triageBox = h('div.triage', { id: 'triage' });
  const commentsBox = h('div.comments', { id: 'comments' });
  const exceptionBox = h('div.exception', { id: 'exception' });
  const activityBox = h('div.activity', { id: 'activity' });

  clear(panel,
    h('div.detail-head',
      h('div.detail-title',
        h('div.detail-meta', h('span.badge.prio', { class: slug(a.priority) }, canonical(a.priority)), h('span.muted.mono', fmtTime(a.time))),
        h('h2', { id: 'detail-rule' }, link('rule', a.rule))),
      closeBtn),
    h('div.detail-body',
      h('p.message', { id: 'detail-message' }, a.message),
      (a.tags || []).length ? h('div.chips.tags', a.tags.map((t) => h('a.chip.chip-tag', { href: opts.filterLink('tag', t) }, t))) : '',
      triageBox,
      h('div.grid2',
        section('Who', who),
        section('What', what),
        section('When', when),
        section('Where', whereBlock)),
      section('Output fields', fields),
      section('Activity', activityBox),
      section('Exception', exceptionBox),
      section('Comments', commentsBox),
      section('Event', raw)));

  renderTriage(triageBox, rec, { ...opts, onComments: () => renderComments(commentsBox, rec, opts) });
  renderComments(commentsBox, rec, opts);
  renderException(exceptionBox, rec);
  renderActivity(activityBox, rec, userName);
}

// renderActivity offers the user's other requests in the hour around the
// alert, from the raw events Vigil keeps with store.keep_events.
function renderActivity(box, rec, userName) {
  if (!userName) {
    clear(box, h('p.muted.small', 'The event names no user.'));
    return;
  }
  const t = Math.floor(rec.alert.time / 1e6); // ms
  const iso = (ms) => new Date(ms).toISOString();
  const params = new URLSearchParams({ user: userName, cluster: rec.cluster, since: iso(t - 30 * 60e3), until: iso(t + 30 * 60e3), limit: '200' });
  const button = h('button.btn.btn-small', {
    id: 'btn-activity', type: 'button',
    onclick: async () => {
      button.disabled = true;
      try {
        const page = await get(withQuery('/events', params));
        const rows = (page.events || []).map((e) => h('tr',
          h('td.mono', fmtTime(e.time)),
          h('td.mono', e.verb),
          h('td.mono', [e.resource, e.namespace && `ns=${e.namespace}`, e.name].filter(Boolean).join(' ')),
          h('td.mono', e.code ? String(e.code) : ''),
          h('td.mono', (e.source_ips || []).join(', '))));
        clear(box,
          h('p.muted.small', `${rows.length}${page.next ? '+' : ''} requests by ${userName} on ${rec.cluster} within 30 minutes of the alert, newest first.`),
          rows.length ? h('div.table-wrap', h('table.table.activity-table', { id: 'activity-table' },
            h('thead', h('tr', ['Time', 'Verb', 'Object', 'Code', 'Source IPs'].map((c) => h('th', c)))),
            h('tbody', rows))) : '');
      } catch (e) {
        if (e instanceof APIError && e.status === 404) {
          clear(box, h('p.muted.small', 'Vigil does not keep raw events: set store.keep_events in its configuration to see what else this user did.'));
        } else {
          toast(`Could not load the activity: ${e.message}`);
          button.disabled = false;
        }
      }
    },
  }, `What else did ${userName} do?`);
  clear(box, h('p.muted.small', 'Every request by this user in the hour around the alert.'), button);
}

function renderTriage(box, rec, opts) {
  const t = rec.triage || { status: 'open' };
  const st = t.status || 'open';
  const can = opts.can.triage;
  const why = can ? '' : `Your role (${opts.session.role}) cannot triage alerts`;
  const assignee = h('input', { id: 'assignee', type: 'text', value: t.assignee || '', placeholder: 'Unassigned', disabled: !can, 'aria-label': 'Assignee', autocomplete: 'off' });

  async function update(body, done) {
    for (const b of box.querySelectorAll('button, input')) b.disabled = true;
    try {
      const updated = await patch(`/alerts/${enc(rec.id)}`, body);
      rec.triage = (updated && updated.triage) || { ...t, ...body };
      // The API records each change as a comment: the alert's history.
      if (updated && Array.isArray(updated.comments)) {
        rec.comments = updated.comments;
        if (opts.onComments) opts.onComments();
      }
      toast(done, 'ok');
      if (opts.onChange) opts.onChange(rec);
    } catch (e) {
      toast(`Could not update the alert: ${e.message}`);
    }
    renderTriage(box, rec, opts);
  }

  const btn = (id, label, status, primary) => h('button.btn', {
    id, type: 'button', class: primary ? 'btn-primary' : '', disabled: !can || st === status, title: why || undefined,
    onclick: () => update({ status }, `Alert ${status}`),
  }, label);

  clear(box,
    h('div.triage-row',
      h('span.triage-label', 'Status'), h('span.badge.status', { id: 'detail-status', class: `status-${st}` }, st),
      t.updated ? h('span.muted.small', `updated ${fmtAgo(t.updated)}`) : '',
      h('span.spacer'),
      btn('btn-ack', 'Acknowledge', 'acknowledged', st === 'open'),
      btn('btn-resolve', 'Resolve', 'resolved', st === 'acknowledged'),
      st !== 'open' ? btn('btn-reopen', 'Reopen', 'open', false) : ''),
    h('form.triage-row', {
      onsubmit: (e) => {
        e.preventDefault();
        update({ assignee: assignee.value.trim() }, assignee.value.trim() ? `Assigned to ${assignee.value.trim()}` : 'Unassigned');
      },
    },
    h('label.triage-label', { for: 'assignee' }, 'Assignee'), assignee,
    h('button.btn.btn-small', { type: 'submit', disabled: !can, title: why || undefined }, 'Save'),
    can && opts.session.user && t.assignee !== opts.session.user ? h('button.btn.btn-small.btn-ghost', {
      type: 'button', onclick: () => update({ assignee: opts.session.user }, `Assigned to ${opts.session.user}`),
    }, 'Assign to me') : ''),
    can ? '' : h('p.muted.small', `${why}.`));
}

function renderComments(box, rec, opts) {
  const list = h('ol.comment-list', { id: 'comment-list' });
  const add = (c) => list.append(h('li.comment',
    h('div.comment-meta', h('strong', c.author || 'unknown'), h('span.muted', { title: fmtTime(c.time) }, ` · ${fmtAgo(c.time)}`)),
    h('div.comment-text', c.text)));
  const comments = rec.comments || [];
  comments.forEach(add);
  const none = h('p.muted.small', { hidden: comments.length > 0 }, 'No comments yet.');
  if (!opts.can.comment) {
    clear(box, list, none, h('p.muted.small', `Your role (${opts.session.role}) cannot comment.`));
    return;
  }
  const text = h('textarea', { id: 'comment-text', rows: 3, placeholder: 'Add a comment for other responders…', 'aria-label': 'Comment', maxlength: 4000 });
  const submit = h('button.btn.btn-small', { id: 'comment-submit', type: 'submit' }, 'Comment');
  const form = h('form.comment-form', {
    onsubmit: async (e) => {
      e.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      submit.disabled = true;
      try {
        const c = await post(`/alerts/${enc(rec.id)}/comments`, { text: body });
        const added = c || { author: opts.session.user, text: body, time: new Date().toISOString() };
        rec.comments = [...(rec.comments || []), added];
        add(added);
        none.hidden = true;
        text.value = '';
      } catch (ex) {
        toast(`Could not add the comment: ${ex.message}`);
      } finally {
        submit.disabled = false;
      }
    },
  }, text, h('div.form-actions', submit));
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  clear(box, list, none, form);
}

function renderException(box, rec) {
  const button = h('button.btn.btn-small', {
    id: 'btn-exception', type: 'button',
    onclick: async () => {
      button.disabled = true;
      try {
        const d = await get(`/alerts/${enc(rec.id)}/exception`);
        const yaml = d.yaml || '';
        const copy = h('button.btn.btn-small', {
          id: 'btn-copy-exception', type: 'button',
          onclick: async () => {
            const ok = await copyText(yaml);
            copy.textContent = ok ? 'Copied' : 'Copy failed';
            setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
          },
        }, 'Copy');
        clear(box,
          h('p.muted.small', `Add this to one of your rules files and reload the rules: events like this one will no longer raise “${d.rule || rec.alert.rule}”. Review it first, it may match more than you intend.`),
          h('div.code-wrap', h('pre.code', { id: 'exception-yaml' }, yaml), h('div.code-tools', copy)));
      } catch (e) {
        toast(`Could not build the exception: ${e.message}`);
        button.disabled = false;
      }
    },
  }, 'Create exception');
  clear(box, h('p.muted.small', 'A rule exception stops this rule from alerting on events like this one.'), button);
}
