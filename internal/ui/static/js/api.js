// The client of Vigil's JSON API (/api/v1), same origin, cookie session.

const BASE = '/api/v1';

// APIError is a failed request: status is the HTTP status (0 when the
// server could not be reached), message the server's {"error"} text.
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// onUnauthorized is called when a request other than login finds the
// session gone (401), so that the app can show the login page.
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

// request sends one API request and returns the decoded JSON body (null for
// 204). Every request carries X-Requested-With, which the API requires for
// cookie-authenticated writes (a cross-site form cannot set it).
export async function request(method, path, body) {
  const headers = { 'X-Requested-With': 'vigil', Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(BASE + path, init);
  } catch (e) {
    throw new APIError(0, 'Cannot reach the server');
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    const msg = (data && data.error) || `${resp.status} ${resp.statusText}`.trim();
    if (resp.status === 401 && path !== '/login' && path !== '/me') unauthorized();
    throw new APIError(resp.status, msg);
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body ?? {});
export const patch = (path, body) => request('PATCH', path, body);
export const put = (path, body) => request('PUT', path, body);

// withQuery appends params (a URLSearchParams) to path.
export function withQuery(path, params) {
  const q = params ? params.toString() : '';
  return q ? `${path}?${q}` : path;
}

// url returns the full URL of an API path, for links (export).
export const url = (path, params) => withQuery(BASE + path, params);

export const enc = encodeURIComponent;

// Stream follows GET /stream with the given filters and calls onAlert with
// each alert Record, and onDropped with the number of alerts the server
// could not send (the caller should reload). onState receives 'connecting', 'live' or 'down'. The
// browser reconnects by itself after a network break, and Stream reconnects
// after a refusal (5 s later); onReconnect is called when a connection opens
// after a break, so the caller can fetch what it missed. close() ends it.
export class Stream {
  constructor(params, { onAlert, onState, onReconnect, onDropped }) {
    this.url = withQuery(BASE + '/stream', params);
    this.onAlert = onAlert;
    this.onDropped = onDropped || (() => {});
    this.onState = onState || (() => {});
    this.onReconnect = onReconnect || (() => {});
    this.closed = false;
    this.broken = false;
    this.connect();
  }

  connect() {
    this.onState('connecting');
    const es = new EventSource(this.url);
    this.es = es;
    es.addEventListener('open', () => {
      this.onState('live');
      if (this.broken) this.onReconnect();
      this.broken = false;
    });
    es.addEventListener('alert', (ev) => {
      let rec;
      try { rec = JSON.parse(ev.data); } catch { return; }
      this.onAlert(rec);
    });
    // The server announces alerts it could not queue for a slow client.
    es.addEventListener('dropped', (ev) => {
      let n = 0;
      try { n = JSON.parse(ev.data).count || 0; } catch { /* keep 0 */ }
      this.onDropped(n);
    });
    es.addEventListener('error', () => {
      if (this.closed || es !== this.es) return;
      this.broken = true;
      if (es.readyState !== EventSource.CLOSED) {
        this.onState('connecting');
        return;
      }
      // The server refused the stream (401, 4xx, 5xx): check the session,
      // then try again.
      this.onState('down');
      get('/me').catch((e) => { if (e.status === 401) unauthorized(); });
      this.retry = setTimeout(() => { if (!this.closed) this.connect(); }, 5000);
    });
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.es) this.es.close();
  }
}
