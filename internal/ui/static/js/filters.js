// The alert filters, shared by the Events and Overview pages. A page's URL
// carries them with the API's own parameter names, so a link to a filtered
// view is the filter itself.

// RANGES are the time range presets: durations back from now, as the API
// takes them (Go durations, so 7 days is 168h).
export const RANGES = [
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['168h', 'Last 7 days'],
  ['720h', 'Last 30 days'],
];
export const DEFAULT_RANGE = '24h';

// FILTER_KEYS are the query parameters of GET /alerts, /summary, /stream
// and /export that select alerts (rule, tag, cluster and status repeat).
export const FILTER_KEYS = ['since', 'until', 'priority', 'rule', 'tag', 'cluster', 'namespace', 'user',
  'verb', 'resource', 'source_ip', 'status', 'q'];

// LABELS name each filter for display.
export const LABELS = {
  since: 'Since', until: 'Until', priority: 'Min priority', rule: 'Rule', tag: 'Tag', cluster: 'Cluster',
  namespace: 'Namespace', user: 'User', verb: 'Verb', resource: 'Resource', source_ip: 'Source IP',
  status: 'Status', q: 'Text',
};

// filters returns the alert filters in params (a URLSearchParams), with the
// default time range when none is set.
export function filters(params) {
  const out = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    for (const v of params.getAll(k)) {
      if (v !== '') out.append(k, v);
    }
  }
  if (!out.has('since') && !out.has('until')) out.set('since', DEFAULT_RANGE);
  return out;
}

// eventsLink returns the Events page's URL for the range of params plus
// one more filter.
export function eventsLink(params, key, value) {
  const p = new URLSearchParams();
  for (const k of ['since', 'until']) {
    for (const v of params.getAll(k)) p.append(k, v);
  }
  if (key) p.set(key, value);
  return '/events?' + p.toString();
}

// rangeLabel names a since value: a preset's label, else the value.
export function rangeLabel(since) {
  const r = RANGES.find(([v]) => v === since);
  return r ? r[1] : `Since ${since}`;
}
