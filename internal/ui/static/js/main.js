// The app shell: session check, login page, sidebar navigation and the
// client-side router (/events, /overview, /rules; the server answers every
// such path with the index).

import { APIError, get, onUnauthorized, post } from './api.js';
import { clear, h } from './dom.js';
import * as events from './events.js';
import * as overview from './overview.js';
import * as rules from './rules.js';

const root = document.getElementById('app');

const ROUTES = {
  '/events': { title: 'Events', page: events },
  '/overview': { title: 'Overview', page: overview },
  '/rules': { title: 'Rules', page: rules },
};

// What each role may do. The API enforces it; the UI only hides or
// disables what would be refused.
function permissions(role) {
  return {
    triage: role === 'responder' || role === 'admin',
    comment: role === 'responder' || role === 'admin',
    rules: role === 'admin',
  };
}

let session = null; // {user, role}
let unmount = null; // cleanup of the mounted page
let shell = null; // {main, nav}

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else if (path !== location.pathname + location.search) history.pushState(null, '', path);
  render();
}

function logo() {
  return h('div.brand', h('span.brand-mark', { 'aria-hidden': 'true' }, 'V'), h('span.brand-name', 'Vigil'));
}

function showLogin(message) {
  teardown();
  session = null;
  shell = null;
  document.title = 'Sign in · Vigil';
  const err = h('p.form-error', { role: 'alert', hidden: !message }, message || '');
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button.btn.btn-primary.btn-block', { id: 'login-submit', type: 'submit' }, 'Sign in');
  const form = h('form.login-card', {
    id: 'login-form',
    method: 'post', // never GET: without the script, no password in a URL
    onsubmit: async (e) => {
      e.preventDefault();
      button.disabled = true;
      err.hidden = true;
      try {
        await post('/login', { username: user.value, password: pass.value });
        await start();
      } catch (ex) {
        err.textContent = ex.status === 401 ? 'Wrong username or password.' : ex.message;
        err.hidden = false;
        pass.value = '';
        pass.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  logo(),
  h('h1', 'Sign in'),
  h('p.muted', 'Kubernetes audit-event security monitor'),
  h('label', { for: 'login-user' }, 'Username'), user,
  h('label', { for: 'login-pass' }, 'Password'), pass,
  err,
  button);
  clear(root, h('div.login-page', form));
  user.focus();
}

function buildShell() {
  const perms = permissions(session.role);
  const nav = h('nav.nav', { 'aria-label': 'Main' },
    Object.entries(ROUTES).map(([path, r]) => h('a.nav-link', { href: path, dataset: { path } },
      h('span.nav-icon', { 'aria-hidden': 'true', dataset: { icon: r.title.toLowerCase() } }), r.title)));
  const logout = h('button.btn.btn-ghost.btn-small', {
    id: 'logout',
    type: 'button',
    onclick: async () => {
      try { await post('/logout'); } catch { /* the session is gone either way */ }
      showLogin();
    },
  }, 'Log out');
  const side = h('aside.sidebar',
    logo(),
    nav,
    h('div.sidebar-foot',
      h('div.who',
        h('span.who-user', { id: 'session-user', title: session.user }, session.user),
        h('span.role-badge', { id: 'session-role', class: `role-${session.role}`, title: roleHelp(session.role) }, session.role)),
      session.method === 'anonymous' ? null : logout));
  const main = h('main.main', { id: 'main' });
  clear(root, h('div.layout', side, main));
  shell = { main, nav, perms };
}

function roleHelp(role) {
  return {
    viewer: 'Viewer: can read alerts, the overview and the rules',
    responder: 'Responder: can also acknowledge, resolve, assign and comment on alerts',
    admin: 'Admin: can also enable and disable rules',
  }[role] || role;
}

// onLinkClick routes same-origin links inside the app without a reload.
function onLinkClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || u.pathname.startsWith('/api/')) return;
  e.preventDefault();
  navigate(u.pathname + u.search);
}

function teardown() {
  if (unmount) {
    try { unmount(); } catch { /* a page's cleanup must not stop navigation */ }
  }
  unmount = null;
}

function render() {
  if (!session) return;
  if (!shell) buildShell();
  let path = location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/') {
    history.replaceState(null, '', '/events' + location.search);
    path = '/events';
  }
  teardown();
  for (const a of shell.nav.querySelectorAll('a')) {
    const on = a.dataset.path === path;
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const route = ROUTES[path];
  const container = h('div.page');
  clear(shell.main, container);
  if (!route) {
    document.title = 'Not found · Vigil';
    container.append(h('div.empty', h('h2', 'Page not found'), h('p', h('a', { href: '/events' }, 'Go to Events'))));
    return;
  }
  document.title = `${route.title} · Vigil`;
  const ctx = {
    session,
    can: shell.perms,
    navigate,
    params: new URLSearchParams(location.search),
  };
  unmount = route.page.mount(container, ctx) || null;
}

async function start() {
  try {
    session = await get('/me');
  } catch (e) {
    if (e instanceof APIError && e.status === 401) {
      showLogin();
      return;
    }
    clear(root, h('div.login-page', h('div.login-card', logo(), h('h1', 'Vigil is unreachable'),
      h('p.form-error', e.message), h('button.btn.btn-primary', { type: 'button', onclick: start }, 'Retry'))));
    return;
  }
  shell = null;
  render();
}

onUnauthorized(() => {
  if (session) showLogin('Your session has ended. Please sign in again.');
});
root.addEventListener('click', onLinkClick);
window.addEventListener('popstate', render);
start();
