// Falco's priorities, most severe first, with the colour scale the UI uses
// for badges and the chart (the same values as the --p-* CSS variables).

export const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'];

export const COLORS = {
  Emergency: '#7a0f12',
  Alert: '#a3151b',
  Critical: '#d32f2f',
  Error: '#ea6a1b',
  Warning: '#e0a100',
  Notice: '#2f6fdb',
  Informational: '#7b8794',
  Debug: '#a9b3bf',
};

// rank returns 0 for Emergency … 7 for Debug, 8 for anything unknown.
export function rank(name) {
  const i = PRIORITIES.findIndex((p) => p.toLowerCase() === String(name || '').toLowerCase());
  return i < 0 ? PRIORITIES.length : i;
}

// canonical returns the priority's display name ("warning" → "Warning").
export function canonical(name) {
  const r = rank(name);
  return r < PRIORITIES.length ? PRIORITIES[r] : String(name || '');
}

// slug returns the CSS class suffix of a priority: "p-critical".
export const slug = (name) => 'p-' + canonical(name).toLowerCase();
