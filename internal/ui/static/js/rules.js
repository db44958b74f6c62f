// The Rules page: every loaded rule with its priority, tags and hit count,
// searchable, and (for admins) a switch to enable or disable it.

import { enc, get, put } from './api.js';
import { clear, fmtNum, h, toast } from './dom.js';
import { rank } from './priority.js';
import { priorityBadge } from './events.js';

const SORTS = {
  name: (a, b) => a.name.localeCompare(b.name),
  priority: (a, b) => rank(a.priority) - rank(b.priority) || a.name.localeCompare(b.name),
  hits: (a, b) => (b.hits || 0) - (a.hits || 0) || a.name.localeCompare(b.name),
};

export function mount(container, ctx) {
  const admin = ctx.can.rules;
  let rules = [];
  let sort = 'name';
  const search = h('input', {
    id: 'rules-search', class: 'grow', type: 'search', placeholder: 'Search rules, descriptions, tags…', 'aria-label': 'Search rules',
    value: ctx.params.get('q') || '', autocomplete: 'off',
  });
  const show = h('select', { id: 'rules-show', 'aria-label': 'Show' },
    h('option', { value: 'all' }, 'All rules'), h('option', { value: 'enabled' }, 'Enabled'), h('option', { value: 'disabled' }, 'Disabled'));
  const count = h('p.muted.sub', { id: 'rules-count' }, 'Loading…');
  const tbody = h('tbody', { id: 'rules-body' });
  const sortHead = (key, label, cls) => {
    const th = h('th', { scope: 'col', class: [cls, 'sortable'], tabindex: '0', dataset: { sort: key } }, label);
    const go = () => { sort = key; draw(); };
    th.addEventListener('click', go);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
    return th;
  };
  const thead = h('thead', h('tr',
    h('th.c-toggle', { scope: 'col' }, 'Enabled'),
    sortHead('name', 'Rule'),
    sortHead('priority', 'Priority', 'c-prio'),
    h('th', { scope: 'col' }, 'Tags'),
    sortHead('hits', 'Hits', 'num')));
  const table = h('table.grid.rules', { id: 'rules-table' }, thead, tbody);

  clear(container,
    h('header.page-head', h('div', h('h1', 'Rules'), count),
      h('div.head-actions', admin ? '' : h('span.muted.small', { id: 'rules-readonly' }, `Read only: enabling and disabling rules needs the admin role (you are ${ctx.session.role}).`))),
    h('div.filters', h('div.filter-row', search, show)),
    h('div.card.table-card', h('div.table-scroll', table)));

  function matches(r, words) {
    const hay = `${r.name}\n${r.description || ''}\n${(r.tags || []).join(' ')}\n${r.priority}\n${r.source || ''}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  }

  function toggle(r, input) {
    input.addEventListener('change', async () => {
      const want = input.checked;
      input.disabled = true;
      try {
        const got = await put(`/rules/${enc(r.name)}`, { enabled: want });
        r.enabled = got && typeof got.enabled === 'boolean' ? got.enabled : want;
        toast(`${r.enabled ? 'Enabled' : 'Disabled'} “${r.name}”`, 'ok');
      } catch (e) {
        toast(`Could not change “${r.name}”: ${e.message}`);
      }
      input.checked = r.enabled;
      input.disabled = false;
      input.closest('tr').classList.toggle('rule-off', !r.enabled);
    });
  }

  function draw() {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const list = rules.filter((r) => matches(r, words) && (show.value === 'all' || (show.value === 'enabled') === !!r.enabled));
    list.sort(SORTS[sort]);
    for (const th of thead.querySelectorAll('th.sortable')) th.classList.toggle('sorted', th.dataset.sort === sort);
    const enabled = rules.filter((r) => r.enabled).length;
    count.textContent = `${fmtNum(rules.length)} rules, ${fmtNum(enabled)} enabled${list.length !== rules.length ? ` · ${fmtNum(list.length)} shown` : ''}`;
    clear(tbody, list.length ? list.map((r) => {
      const input = h('input.switch', {
        type: 'checkbox', checked: !!r.enabled, disabled: !admin, 'aria-label': `Enable ${r.name}`,
        title: admin ? (r.enabled ? 'Disable this rule' : 'Enable this rule') : 'Only admins can enable or disable rules',
      });
      if (admin) toggle(r, input);
      return h('tr', { class: r.enabled ? '' : 'rule-off', dataset: { rule: r.name } },
        h('td.c-toggle', h('label.switch-wrap', input, h('span.switch-track', { 'aria-hidden': 'true' }))),
        h('td.c-rulename',
          h('div.rule-name', r.name,
            r.overridden ? h('span.badge.tag-runtime', { title: 'Switched at runtime, overriding the rules files' }, 'runtime') : ''),
          r.description ? h('div.rule-desc.muted', r.description) : '',
          r.source ? h('div.rule-src.muted', r.source) : ''),
        h('td.c-prio', priorityBadge(r.priority)),
        h('td', h('span.chips', (r.tags || []).map((t) => h('span.chip', t)))),
        h('td.num', r.hits ? h('a', { href: `/events?rule=${encodeURIComponent(r.name)}&since=720h`, title: 'Show its alerts (30 days)' }, fmtNum(r.hits)) : '0'));
    }) : h('tr', h('td.empty-cell', { colspan: 5 }, 'No rule matches.')));
  }

  search.addEventListener('input', draw);
  show.addEventListener('change', draw);
  get('/rules').then((d) => {
    rules = (d && d.rules) || [];
    draw();
  }).catch((e) => {
    count.textContent = `Could not load the rules: ${e.message}`;
  });
  return null;
}
