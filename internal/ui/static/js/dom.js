// Small DOM helpers: build elements without innerHTML (every string is
// text, never markup) and format values for display.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// h('tag.class1.class2', {attrs}, ...children) builds an HTML element.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  if (attrs && 'class' in attrs && classes.length) {
    const extra = Array.isArray(attrs.class) ? attrs.class : [attrs.class];
    attrs = { ...attrs, class: [...classes, ...extra].filter(Boolean).join(' ') };
  }
  apply(el, attrs);
  append(el, children);
  return el;
}

// s(tag, attrs, ...children) builds an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

// clear removes every child of el and appends the given ones.
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// toDate accepts Unix nanoseconds (number), an RFC 3339 string or a Date.
export function toDate(t) {
  if (t instanceof Date) return t;
  if (typeof t === 'number') return new Date(Math.floor(t / 1e6));
  if (typeof t === 'string' && t) return new Date(t);
  return null;
}

// fmtTime renders a time as local "YYYY-MM-DD HH:MM:SS".
export function fmtTime(t, withMillis = false) {
  const d = toDate(t);
  if (!d || isNaN(d)) return '—';
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMillis ? `${base}.${pad(d.getMilliseconds(), 3)}` : base;
}

// fmtShort renders a time compactly: the time of day today, else the date too.
export function fmtShort(t) {
  const d = toDate(t);
  if (!d || isNaN(d)) return '—';
  const now = new Date();
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return hms;
  return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

// fmtAgo renders how long ago t was: "12s ago", "5m ago", "3h ago", "2d ago".
export function fmtAgo(t) {
  const d = toDate(t);
  if (!d || isNaN(d) || d.getTime() <= 0) return 'never';
  const sec = Math.round((Date.now() - d.getTime()) / 1000);
  if (sec < 5) return 'just now';
  if (sec < 60) return `${sec}s ago`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m ago`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h ago`;
  return `${Math.floor(sec / 86400)}d ago`;
}

const numFmt = new Intl.NumberFormat('en-US');
export const fmtNum = (n) => (typeof n === 'number' && isFinite(n) ? numFmt.format(n) : '—');

export function fmtRate(n) {
  if (typeof n !== 'number' || !isFinite(n)) return '—';
  if (n === 0) return '0';
  if (n < 10) return n.toFixed(2);
  return numFmt.format(Math.round(n));
}

// copyText puts text on the clipboard, falling back to a hidden textarea
// where the Clipboard API is unavailable.
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch { /* fall through */ }
  }
  const ta = h('textarea', { class: 'offscreen', readonly: true }, text);
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

// toast shows a short message in the corner; kind is 'error' or 'ok'.
export function toast(message, kind = 'error') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div.toasts', { id: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = h('div.toast', { class: `toast-${kind}` }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 6000 : 2500);
}
