// @ts-check
// The admin screen: sign-in (single sign-on or an API token), the tenant choice, the
// Integration Accounts pages, the Recording Export pages, the Interaction Records pages,
// the Live page and the tenant's users, routed by the URL's hash (#/signin?tenant=<tenant>,
// #/t/<tenant>, #/t/<tenant>/a/<id>, #/t/<tenant>/new/<type>/<provider>,
// #/t/<tenant>/exports, #/t/<tenant>/exports/new, #/t/<tenant>/exports/<id>[/settings],
// #/t/<tenant>/recordings[/<id>], #/t/<tenant>/live, #/t/<tenant>/users) and the service
// provider's pages (#/ the tenants, #/t/<tenant>/settings, #/tokens and
// #/t/<tenant>/tokens, #/keys) so that Back, reload and links work. What a page starts (a
// live stream, a timer) ends when another page is shown: see pageSignal().

import { call, errorText, load, paths, setCsrf, tenantBoundRoles, titles } from './api.js';
import { confirmDialog, typePicker } from './dialogs.js';
import { formatTime, h, icon, replace, toast } from './dom.js';
import { exportJobForm, exportJobsList, jobHref, runsPanel } from './exports.js';
import { accountForm } from './form.js';
import { historyPanel } from './history.js';
import { keysView } from './keys.js';
import { accountsList, queryOfView, viewFromQuery } from './list.js';
import { forgetSearch, recordView, recordsHref, recordsView, searchHref } from './records.js';
import { liveView } from './live.js';
import { healthBadge, setCategories } from './report.js';
import { createTenantDialog, settingsHref, tenantSettingsView, tenantsView } from './tenants.js';
import { tokensView } from './tokens.js';
import { usersView } from './users.js';

/**
 * @typedef {import('./api.js').Principal} Principal
 * @typedef {import('./api.js').Tenant} Tenant
 * @typedef {import('./api.js').Account} Account
 * @typedef {import('./api.js').ExportJob} ExportJob
 * @typedef {import('./api.js').IntegrationType} IntegrationType
 * @typedef {import('./api.js').ContactFields} ContactFields
 * @typedef {import('./dom.js').Child} Child
 * @typedef {{label: string, href?: string}} Crumb
 */

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
/**
 * What every page reads, loaded at sign-in from the API: the integration types, the
 * contact fields a mapping may target, and how an export job's settings are described.
 * @typedef {object} Reference
 * @property {IntegrationType[]} catalog
 * @property {ContactFields} contactFields
 * @property {import('./api.js').ExportJobSettings} exportSettings
 * @property {Record<string, import('./api.js').Titled>} roles How each role is named.
 * @property {Record<string, import('./api.js').Titled>} userRoles How each role a user can have is named.
 * @property {import('./records.js').Names} recordNames How call directions, audio and export states and sentiments are named.
 * @property {string[]} tenantBound The roles whose tokens belong to a tenant.
 * @property {Record<string, import('./api.js').Titled>} agentStates How each agent state is named.
 * @property {Record<string, import('./api.js').Titled>} categories How each failure category is named, and its advice.
 */

/**
 * The signed-in principal and the reference data. Pages run only once both are there
 * (see route()).
 * @type {{principal: Principal | null, reference: Reference | null}}
 */
const session = { principal: null, reference: null };
let navigation = 0;
let pageScope = new AbortController();

/**
 * A signal for what the page about to be shown starts (live streams, timers): it aborts
 * when the next page (or the sign-in page) is shown.
 */
function pageSignal() {
  pageScope.abort();
  pageScope = new AbortController();
  return pageScope.signal;
}

/**
 * The page shown now (its hash and its history entry's stamp) and, while it holds unsaved
 * edits, what they are: leaving the page (a link, Back or Forward, the tenant switch,
 * signing out, reloading) asks first.
 * @type {{hash: string, stamp: number, unsaved: (() => string | null) | null}}
 */
const page = { hash: '', stamp: 0, unsaved: null };
/**
 * History entries are stamped in the order they are first shown, so a hash change tells
 * whether the user went back, forward, or to a new entry (no stamp yet), and staying
 * undoes exactly that step.
 */
let stamps = 0;
/** Set while the address steps back to the page the user chose to stay on. */
let restoring = false;

/** The current history entry's stamp, stamping it when it has none. */
function entryStamp() {
  const state = history.state;
  if (state && typeof state.stamp === 'number') return state.stamp;
  stamps += 1;
  history.replaceState({ stamp: stamps }, '');
  return stamps;
}

/**
 * Lets the current page say what leaving would lose (`what()` names it, null when nothing).
 * @param {() => string | null} what
 */
function guardLeaving(what) {
  page.unsaved = what;
}

/** Resolves true when the user may leave the current page: nothing unsaved, or they confirm. */
async function mayLeave() {
  const lost = page.unsaved ? page.unsaved() : null;
  if (!lost) return true;
  const leave = await confirmDialog({
    title: 'Leave without saving?',
    message: `Your changes to ${lost} are not saved.`,
    detail: 'Stay to save them, or leave and lose them.',
    confirmLabel: 'Leave without saving',
    danger: true,
  });
  if (leave) page.unsaved = null;
  return leave;
}

window.addEventListener('beforeunload', (event) => {
  if (page.unsaved && page.unsaved()) event.preventDefault();
});

/** The signed-in principal; pages run only while there is one (see route()). */
const me = () => /** @type {Principal} */ (session.principal);
const readOnly = () => me().role === 'tenant_viewer';
/** The reference data, loaded at sign-in; pages run only once it is (see route()). */
const reference = () => /** @type {Reference} */ (session.reference);
/**
 * @param {string} t
 * @param {string} [rest]
 */
const tenantHref = (t, rest = '') => `#/t/${encodeURIComponent(t)}${rest}`;
/** The roles that see a tenant's users. */
const USER_READERS = ['sp_admin', 'tenant_admin', 'tenant_viewer'];
/** The roles that manage API tokens (`Access::Tokens`). */
const TOKEN_MANAGERS = ['sp_admin', 'tenant_admin'];
/** Whether the signed-in principal is the service provider. */
const provider = () => me().role === 'sp_admin';

// ---------------------------------------------------------------- sign in / out

/** Where the sign-in page keeps the contact center last signed in to through single sign-on. */
const SSO_TENANT_KEY = 'patchbay.sso-tenant';

/** @returns {string | null} */
function rememberedSsoTenant() {
  try {
    return localStorage.getItem(SSO_TENANT_KEY);
  } catch {
    return null;
  }
}

/** @param {string | null} tenant Null forgets it. */
function rememberSsoTenant(tenant) {
  try {
    if (tenant) localStorage.setItem(SSO_TENANT_KEY, tenant);
    else localStorage.removeItem(SSO_TENANT_KEY);
  } catch {
    // Storage may be off; the page then asks for the contact center each time.
  }
}

/**
 * The patchbay page single sign-on returns to: the page asked for when it is one of the
 * tenant's, else the tenant's start page.
 * @param {string} tenant
 */
function ssoReturnPath(tenant) {
  const start = tenantHref(tenant);
  const here = location.hash;
  return `/${here === start || here.startsWith(`${start}/`) || here.startsWith(`${start}?`) ? here : start}`;
}

/**
 * The single sign-on part of the sign-in page: "Sign in with <IdP>" for the contact center
 * named by `#/signin?tenant=` or last signed in to through SSO, else a field to name it.
 * @param {string | null} asked The tenant the address names.
 * @param {() => boolean} current Whether the sign-in page is still shown.
 */
function ssoSection(asked, current) {
  const section = h('section', { class: 'signin-section sso', 'aria-labelledby': 'sso-title' });
  const title = h('h2', { class: 'signin-section-title', id: 'sso-title' }, 'Single sign-on');
  const input = h('input', { type: 'text', id: 'sso-tenant', class: 'input', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'sso-tenant-help' });
  const error = h('p', { class: 'field-error', id: 'sso-tenant-error', role: 'alert', hidden: true });
  const find = h('button', { type: 'submit', class: 'btn btn-secondary btn-block sso-find' }, 'Continue with single sign-on');
  const form = h('form', { class: 'signin-form', id: 'sso-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'sso-tenant', class: 'field-label' }, 'Contact center id'),
      input,
      h('p', { class: 'field-help', id: 'sso-tenant-help' }, 'If your contact center signs in through its identity provider, enter its id.'),
      error),
    find);
  /** @param {string | null} message */
  const setError = (message) => {
    error.textContent = message || '';
    error.hidden = !message;
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', 'sso-tenant-help sso-tenant-error');
    } else {
      input.removeAttribute('aria-invalid');
      input.setAttribute('aria-describedby', 'sso-tenant-help');
    }
  };
  /** @param {string} value */
  const showForm = (value) => {
    input.value = value;
    replace(section, title, form);
  };
  /**
   * @param {string} tenant
   * @param {import('./api.js').AdminSso} offer
   */
  const showOffer = (tenant, offer) => {
    const login = new URL(offer.login_path, location.origin);
    login.searchParams.set('return_to', ssoReturnPath(tenant));
    const button = h('a', { class: 'btn btn-primary btn-block sso-button', href: `${login.pathname}${login.search}`, onclick: () => rememberSsoTenant(tenant) },
      icon('login'), `Sign in with ${offer.name}`);
    const other = h('button', { type: 'button', class: 'btn btn-link btn-small sso-other' }, 'Use another contact center');
    other.addEventListener('click', () => {
      setError(null);
      showForm(tenant);
      input.focus();
      input.select();
    });
    replace(section, title,
      button,
      h('p', { class: 'muted small sso-tenant' }, 'Contact center ', h('code', {}, tenant), ' · ', other),
      offer.required
        ? h('p', { class: 'notice sso-required' }, icon('lock'), 'This contact center signs in through its identity provider: its API tokens cannot sign in to the admin screen.')
        : null);
    return button;
  };
  /**
   * Asks the server whether `tenant` offers single sign-on.
   * @param {string} tenant
   * @returns {Promise<{offer: import('./api.js').AdminSso | null, problem: string | null}>}
   */
  const lookUp = async (tenant) => {
    const reply = await call('GET', paths.sso(tenant), { signingIn: true });
    if (reply.ok) return { offer: reply.body, problem: null };
    if (reply.status === 404) return { offer: null, problem: `The contact center “${tenant}” does not sign in through an identity provider here; sign in with an API token instead.` };
    return { offer: null, problem: reply.message };
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setError(null);
    const tenant = input.value.trim();
    if (!tenant) {
      setError('Enter your contact center’s id.');
      input.focus();
      return;
    }
    find.disabled = true;
    const { offer, problem } = await lookUp(tenant);
    find.disabled = false;
    if (!current()) return;
    if (offer) {
      showOffer(tenant, offer).focus();
      return;
    }
    setError(problem);
    input.focus();
  });

  const known = asked || rememberedSsoTenant();
  if (!known) {
    showForm('');
    return section;
  }
  replace(section, title, h('p', { class: 'muted loading sso-looking' }, 'Looking up single sign-on…'));
  lookUp(known).then(({ offer, problem }) => {
    if (!current()) return;
    if (offer) {
      const button = showOffer(known, offer);
      if (document.activeElement === document.body) button.focus();
      return;
    }
    // A remembered contact center that no longer offers single sign-on is forgotten quietly.
    if (!asked) rememberSsoTenant(null);
    showForm(known);
    if (asked) setError(problem);
    if (document.activeElement === document.body) input.focus();
  });
  return section;
}

/** @param {string} [notice] */
function showSignIn(notice) {
  navigation += 1;
  pageSignal();
  const shown = navigation;
  document.title = 'Sign in · patchbay';
  const [path, queryText] = location.hash.replace(/^#/, '').split('?');
  const asked = path === '/signin' ? (new URLSearchParams(queryText || '').get('tenant') || '').trim() || null : null;
  const input = h('input', { type: 'password', id: 'token', class: 'input', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-help' });
  const error = h('p', { class: 'field-error', id: 'token-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
  const form = h('form', { class: 'signin-form', id: 'signin-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'token', class: 'field-label' }, 'API token'),
      input,
      h('p', { class: 'field-help', id: 'token-help' },
        'Paste an API token. The service-provider admin token is in the data dir’s admin-token file; ',
        h('code', {}, 'patchbay tokens create'), ' makes tokens for a contact center’s administrators and viewers.'),
      error),
    submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    if (!input.value.trim()) {
      error.textContent = 'Paste your API token.';
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    submit.disabled = true;
    const reply = await call('POST', paths.session(), { body: { token: input.value }, signingIn: true });
    submit.disabled = false;
    if (reply.ok) {
      input.value = '';
      await signedIn(reply.body);
      return;
    }
    error.textContent = reply.status === 401 ? 'This token is unknown or has been revoked.' : reply.message;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  });
  root.className = 'signin-page';
  const sso = ssoSection(asked, () => navigation === shown && !session.principal);
  replace(root, h('main', { class: 'signin' },
    h('div', { class: 'signin-card card' },
      h('div', { class: 'brand brand-large' }, h('img', { src: '/ui/assets/icon.svg', alt: '', width: 36, height: 36 }), h('span', {}, 'patchbay')),
      h('h1', { class: 'signin-title' }, 'Sign in to the admin screen'),
      h('p', { class: 'muted' }, 'Manage the integration accounts of your contact centers.'),
      notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
      sso,
      h('p', { class: 'signin-or' }, h('span', {}, 'or')),
      h('section', { class: 'signin-section', 'aria-labelledby': 'token-title' },
        h('h2', { class: 'signin-section-title', id: 'token-title' }, 'API token'),
        form))));
  if (!asked && !rememberedSsoTenant()) input.focus();
}

/** @param {import('./api.js').Session} body */
async function signedIn(body) {
  setCsrf(body.csrf_token);
  session.principal = body.principal;
  root.className = 'boot';
  replace(root, h('p', { class: 'boot-message loading' }, 'Loading…'));
  try {
    const [types, contactFields, exportSettings, openapi] = await Promise.all([
      load(paths.types()), load(paths.contactFields()), load(paths.exportJobSettings()), load(paths.openapi())]);
    const categories = titles(openapi.body, 'Category');
    setCategories(categories);
    session.reference = {
      catalog: types.body.items, contactFields: contactFields.body, exportSettings: exportSettings.body,
      roles: titles(openapi.body, 'Role'), userRoles: titles(openapi.body, 'UserRole'), categories,
      recordNames: {
        directions: titles(openapi.body, 'Direction'), audioStates: titles(openapi.body, 'AudioState'),
        exportStates: titles(openapi.body, 'ExportState'), sentiments: titles(openapi.body, 'SentimentLabel'),
      },
      tenantBound: tenantBoundRoles(openapi.body),
      agentStates: titles(openapi.body, 'AgentState'),
    };
  } catch (e) {
    replace(root, h('p', { class: 'boot-message error-text' }, `The catalog could not be loaded: ${errorText(e)}`));
    return;
  }
  route();
}

async function signOut() {
  if (!(await mayLeave())) return;
  await call('DELETE', paths.session());
  setCsrf(null);
  session.principal = null;
  forgetSearch();
  history.replaceState(null, '', '#/');
  showSignIn('You have signed out.');
}

// ---------------------------------------------------------------- layout

/**
 * The page around `body`: the sidebar (brand, tenant, navigation, who is signed in) and the
 * header (breadcrumbs, title, subtitle).
 * @param {object} page
 * @param {Tenant | null} [page.tenant]
 * @param {Crumb[]} [page.crumbs]
 * @param {string} page.title
 * @param {Child} [page.subtitle]
 * @param {Child} page.body
 * @param {'tenants' | 'tokens' | 'keys' | 'accounts' | 'exports' | 'records' | 'live' | 'users' | 'tenant-tokens' | 'settings'} [page.current] The navigation entry to highlight.
 */
function shell({ tenant, crumbs, title, subtitle, body, current }) {
  const p = me();
  /**
   * @param {string} key
   * @param {string} href
   * @param {string} iconName
   * @param {string} label
   */
  const link = (key, href, iconName, label) => h('a', { class: ['nav-link', `nav-${key}`, current === key && 'active'], href, 'aria-current': current === key ? 'page' : null }, icon(iconName), label);
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' },
    p.role === 'sp_admin' ? [
      link('tenants', '#/', 'building', 'Tenants'),
      link('tokens', '#/tokens', 'key', 'All API tokens'),
      link('keys', '#/keys', 'lock', 'Master keys'),
    ] : null,
    tenant ? [
      h('p', { class: 'nav-section' }, 'Call Center Configuration'),
      h('a', { class: ['nav-link', current === 'accounts' && 'active'], href: tenantHref(tenant.id), 'aria-current': current === 'accounts' ? 'page' : null }, icon('plug'), 'Integration Accounts'),
      h('a', { class: ['nav-link', 'nav-exports', current === 'exports' && 'active'], href: tenantHref(tenant.id, '/exports'), 'aria-current': current === 'exports' ? 'page' : null }, icon('upload'), 'Recording Export'),
      h('p', { class: 'nav-section' }, 'Interactions'),
      h('a', { class: ['nav-link', 'nav-records', current === 'records' && 'active'], href: searchHref(tenant.id), 'aria-current': current === 'records' ? 'page' : null }, icon('play'), 'Interaction Records'),
      h('p', { class: 'nav-section' }, 'Monitoring'),
      h('a', { class: ['nav-link', 'nav-live', current === 'live' && 'active'], href: tenantHref(tenant.id, '/live'), 'aria-current': current === 'live' ? 'page' : null }, icon('activity'), 'Live'),
      USER_READERS.includes(p.role) ? [
        h('p', { class: 'nav-section' }, 'Access'),
        h('a', { class: ['nav-link', 'nav-users', current === 'users' && 'active'], href: tenantHref(tenant.id, '/users'), 'aria-current': current === 'users' ? 'page' : null }, icon('users'), 'Users'),
        TOKEN_MANAGERS.includes(p.role) ? link('tenant-tokens', tenantHref(tenant.id, '/tokens'), 'key', 'Tokens') : null,
        p.role === 'sp_admin' ? link('settings', settingsHref(tenant.id), 'edit', 'Settings') : null,
      ] : null,
    ] : null);
  const tenantBox = tenant ? h('div', { class: 'tenant-box' },
    h('span', { class: 'tenant-caption' }, 'Contact center'),
    h('span', { class: 'tenant-name', title: tenant.id }, tenant.name),
    p.role === 'sp_admin' ? h('a', { class: 'tenant-switch', href: '#/' }, 'Switch tenant') : null) : null;
  const sidebar = h('aside', { class: 'sidebar' },
    h('a', { class: 'brand', href: '#/' }, h('img', { src: '/ui/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, 'patchbay')),
    tenantBox,
    nav,
    h('div', { class: 'sidebar-foot' },
      h('div', { class: 'who' },
        h('span', { class: 'who-name', title: p.user_id ? p.name : `Token ${p.token_id}` }, p.name),
        h('span', { class: 'who-role' }, reference().roles[p.role]?.title || p.role),
        p.user_id ? h('span', { class: 'who-via' }, icon('login'), 'Signed in through single sign-on') : null),
      h('button', { type: 'button', class: 'btn btn-ghost sign-out', onclick: signOut }, icon('logout'), 'Sign out')));
  const heading = h('h1', { class: 'page-title', tabindex: '-1' }, title);
  const main = h('main', { class: 'content', id: 'main' },
    h('header', { class: 'page-header' },
      crumbs ? h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {}, crumbs.map((c) => h('li', {}, c.href ? h('a', { href: c.href }, c.label) : h('span', { 'aria-current': 'page' }, c.label))))) : null,
      h('div', { class: 'page-heading' }, heading, subtitle ? h('div', { class: 'page-subtitle' }, subtitle) : null)),
    body);
  if (!root.classList.contains('shell') || root.dataset.page !== location.hash) window.scrollTo(0, 0);
  root.className = 'shell';
  root.dataset.page = location.hash;
  replace(root, h('a', { class: 'skip-link', href: '#main', onclick: (/** @type {Event} */ e) => { e.preventDefault(); heading.focus(); } }, 'Skip to content'), sidebar, h('div', { class: 'main' }, main));
  // The old page went with what had focus: the new page's title takes it, so a keyboard or
  // screen reader user goes on from the top of the page (a page may then focus a field).
  if (!document.activeElement || document.activeElement === document.body) heading.focus({ preventScroll: true });
  return { main, heading };
}

/**
 * While a page loads, the current one stays with a progress bar on top; the first time, a placeholder.
 * @param {string} title
 */
function loading(title) {
  if (root.classList.contains('shell')) {
    root.classList.add('is-loading');
    return;
  }
  shell({ title, body: h('p', { class: 'loading' }, 'Loading…') });
}

/**
 * @param {string} title
 * @param {Tenant | null} tenant
 * @param {string} message
 */
function failure(title, tenant, message) {
  shell({
    tenant,
    title,
    body: h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'),
      h('div', {}, h('strong', {}, 'This page could not be loaded.'), h('p', {}, message),
        h('button', { type: 'button', class: 'btn btn-secondary btn-small', onclick: route }, icon('refresh'), 'Try again'))),
  });
}

// ---------------------------------------------------------------- pages

/**
 * The service provider's tenants, searched and sorted as the URL's `q` and `sort` say.
 * @param {number} nav
 * @param {URLSearchParams} query
 */
async function tenantsPage(nav, query) {
  loading('Tenants');
  const reply = await call('GET', paths.tenants());
  if (nav !== navigation) return;
  if (!reply.ok) return failure('Tenants', null, reply.message);
  document.title = 'Tenants · patchbay';
  // `sort=created` ascending, `sort=-created` descending.
  const sortText = query.get('sort') || '';
  const key = sortText.replace(/^-/, '');
  shell({
    title: 'Tenants',
    subtitle: 'The contact centers this service runs: choose one to manage its integration accounts.',
    body: tenantsView({
      tenants: reply.body.items,
      catalog: reference().catalog,
      search: query.get('q') || '',
      sort: key ? { key, descending: sortText.startsWith('-') } : null,
      onQuery: (search, sort) => {
        const next = new URLSearchParams();
        if (search) next.set('q', search);
        if (sort) next.set('sort', `${sort.descending ? '-' : ''}${sort.key}`);
        const text = next.toString();
        history.replaceState(null, '', `#/${text ? `?${text}` : ''}`);
      },
      onCreate: async () => {
        const created = await createTenantDialog();
        if (!created) return;
        toast(`“${created.name}” was added. Choose the gated types it may use.`);
        location.hash = settingsHref(created.id);
      },
    }),
    current: 'tenants',
  });
  return undefined;
}

/**
 * A tenant's settings, for the service provider: name, gated types, deletion.
 * @param {number} nav
 * @param {string} tenantId
 */
async function settingsPage(nav, tenantId) {
  loading('Settings');
  const [tenant, accounts] = await Promise.all([call('GET', paths.tenant(tenantId)), call('GET', paths.accounts(tenantId))]);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Settings', null, tenant.message);
  if (!accounts.ok) return failure('Settings', tenant.body, accounts.message);
  document.title = `Settings · ${tenant.body.name} · patchbay`;
  const { heading } = shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Tenants', href: '#/' }, { label: tenant.body.name, href: tenantHref(tenantId) }, { label: 'Settings' }],
    title: 'Settings',
    subtitle: `How ${tenant.body.name} is named, which gated integration types it may use, and deleting it.`,
    body: tenantSettingsView({
      tenant: tenant.body,
      catalog: reference().catalog,
      accounts: accounts.body.items,
      onChanged: (saved) => {
        const name = document.querySelector('.tenant-name');
        if (name) name.textContent = saved.name;
      },
      onDeleted: () => {
        toast(`“${tenant.body.name}” was deleted.`);
        location.hash = '#/';
      },
      onReload: route,
    }),
    current: 'settings',
  });
  heading.focus();
  return undefined;
}

/**
 * API tokens: every one for the service provider (`tenantId` null), else the tenant's.
 * @param {number} nav
 * @param {string | null} tenantId
 */
async function tokensPage(nav, tenantId) {
  loading('Tokens');
  const [tenant, tokens, tenants] = await Promise.all([
    tenantId ? call('GET', paths.tenant(tenantId)) : null,
    call('GET', paths.tokens()),
    tenantId ? null : call('GET', paths.tenants()),
  ]);
  if (nav !== navigation) return;
  if (tenant && !tenant.ok) return failure('Tokens', null, tenant.message);
  const where = tenant ? tenant.body : null;
  if (!tokens.ok) return failure('Tokens', where, tokens.message);
  if (tenants && !tenants.ok) return failure('Tokens', null, tenants.message);
  /** @param {import('./api.js').Token[]} list */
  const ofTenant = (list) => (tenantId ? list.filter((t) => t.tenant_id === tenantId) : list);
  document.title = where ? `Tokens · ${where.name} · patchbay` : 'Tokens · patchbay';
  shell({
    tenant: where,
    crumbs: where ? [{ label: 'Access' }, { label: 'Tokens' }] : [{ label: 'Tokens' }],
    title: where ? 'Tokens' : 'API tokens',
    subtitle: where
      ? `The API tokens of ${where.name}: for its administrators, viewers, contact-center platform and applications.`
      : 'Every API token: the service provider’s and each contact center’s.',
    body: tokensView({
      principal: me(),
      tokens: ofTenant(tokens.body.items),
      roles: reference().roles,
      tenantBound: reference().tenantBound,
      tenant: tenantId,
      tenants: where ? [where] : tenants ? tenants.body.items : [],
      reload: async () => ofTenant((await load(paths.tokens())).body.items),
    }),
    current: where ? 'tenant-tokens' : 'tokens',
  });
  return undefined;
}

/** @param {number} nav */
async function keysPage(nav) {
  loading('Master keys');
  const reply = await call('GET', paths.keys());
  if (nav !== navigation) return;
  if (!reply.ok) return failure('Master keys', null, reply.message);
  document.title = 'Master keys · patchbay';
  shell({
    title: 'Master keys',
    subtitle: 'The keys that seal the secret values of integration accounts and subscriptions.',
    body: keysView({ status: reply.body }),
    current: 'keys',
  });
  return undefined;
}

/**
 * @param {string} tenantId
 * @returns {Promise<{tenant: Tenant, accounts: Account[], feeds: Record<string, import('./api.js').FeedHealth>}>}
 */
async function tenantData(tenantId) {
  const [tenant, accounts, feeds] = await Promise.all([
    call('GET', paths.tenant(tenantId)), call('GET', paths.accounts(tenantId)), call('GET', paths.feeds(tenantId))]);
  if (!tenant.ok) throw new Error(tenant.message);
  if (!accounts.ok) throw new Error(accounts.message);
  // Feed health is extra information: the list still shows when it cannot be read.
  const byAccount = feeds.ok ? Object.fromEntries(feeds.body.items.map((/** @type {import('./api.js').FeedHealth} */ f) => [f.account_id, f])) : {};
  return { tenant: tenant.body, accounts: accounts.body.items, feeds: byAccount };
}

/**
 * @param {number} nav
 * @param {string} tenantId
 * @param {URLSearchParams} query
 */
async function listPage(nav, tenantId, query) {
  loading('Integration Accounts');
  let data;
  try {
    data = await tenantData(tenantId);
  } catch (e) {
    if (nav === navigation) failure('Integration Accounts', null, errorText(e));
    return;
  }
  if (nav !== navigation) return;
  const { tenant, accounts, feeds } = data;
  document.title = `Integration Accounts · ${tenant.name} · patchbay`;
  const onAdd = async () => {
    const choice = await typePicker({ catalog: reference().catalog, accounts, enabledTypes: tenant.enabled_types });
    if (choice) location.hash = tenantHref(tenant.id, `/new/${encodeURIComponent(choice.type)}/${encodeURIComponent(choice.provider)}`);
  };
  const body = accountsList({
    tenant,
    catalog: reference().catalog,
    accounts,
    feeds,
    readOnly: readOnly(),
    view: viewFromQuery(query),
    onView: (view) => history.replaceState(null, '', tenantHref(tenant.id, queryOfView(view))),
    onAdd,
    cloneHref: (a) => tenantHref(tenant.id, `/new/${encodeURIComponent(a.type)}/${encodeURIComponent(a.provider)}?clone=${encodeURIComponent(a.id)}`),
  });
  shell({
    tenant,
    crumbs: [{ label: 'Call Center Configuration' }, { label: 'Integration Accounts' }],
    title: 'Integration Accounts',
    subtitle: `Connections of ${tenant.name} to CRMs, messengers, speech engines, workforce management and more.`,
    body,
    current: 'accounts',
  });
}

/**
 * @param {string} typeKey
 * @param {string} providerKey
 */
function typeAndProvider(typeKey, providerKey) {
  const type = reference().catalog.find((t) => t.key === typeKey);
  const provider = type && type.providers.find((p) => p.key === providerKey);
  return { type, provider };
}

/**
 * The new-account form; with `cloneId`, a copy of that account of the same type and
 * provider: named "Copy of <name>", its secrets left for the user to enter again.
 * @param {number} nav
 * @param {string} tenantId
 * @param {string} typeKey
 * @param {string} providerKey
 * @param {string | null} cloneId
 */
async function newPage(nav, tenantId, typeKey, providerKey, cloneId) {
  loading('New integration account');
  let data;
  try {
    data = await tenantData(tenantId);
  } catch (e) {
    if (nav === navigation) failure('New integration account', null, errorText(e));
    return;
  }
  if (nav !== navigation) return;
  const { tenant } = data;
  const { type, provider } = typeAndProvider(typeKey, providerKey);
  const source = cloneId ? data.accounts.find((a) => a.id === cloneId && a.type === typeKey && a.provider === providerKey) : null;
  if (!type || !provider || readOnly()) {
    location.replace(tenantHref(tenant.id));
    return;
  }
  document.title = `New ${type.label} account · patchbay`;
  const form = accountForm({
    tenant, type, provider, account: null, readOnly: false, contactFields: reference().contactFields,
    prefill: source ? { name: `Copy of ${source.name}`.slice(0, 100), enabled: source.enabled, properties: source.properties } : null,
    guardLeaving,
    onSaved: (saved) => { location.hash = tenantHref(tenant.id, `/a/${encodeURIComponent(saved.id)}`); },
    onDeleted: () => {},
    onReload: route,
  });
  shell({
    tenant,
    crumbs: [{ label: 'Call Center Configuration' }, { label: 'Integration Accounts', href: tenantHref(tenant.id) }, { label: 'New' }],
    title: source ? `New ${type.label} account, a copy of ${source.name}` : `New ${type.label} account`,
    subtitle: type.providers.length > 1 ? `Provider: ${provider.label}` : null,
    body: [
      source ? h('p', { class: 'notice clone-notice', role: 'status' }, icon('copy'),
        `A copy of “${source.name}”. Its secrets are not copied: enter them again before you create the account.`) : null,
      form,
    ],
    current: 'accounts',
  });
  const first = document.getElementById('f-name');
  if (first) first.focus();
}

/**
 * @param {number} nav
 * @param {string} tenantId
 * @param {string} id
 * @param {string | undefined} tab
 */
async function accountPage(nav, tenantId, id, tab) {
  loading('Integration account');
  const [tenantReply, accountReply] = await Promise.all([call('GET', paths.tenant(tenantId)), call('GET', paths.account(tenantId, id))]);
  if (nav !== navigation) return;
  if (!tenantReply.ok) return failure('Integration account', null, tenantReply.message);
  const tenant = tenantReply.body;
  if (!accountReply.ok) {
    return failure('Integration account', tenant, accountReply.status === 404 ? 'This integration account does not exist (any more).' : accountReply.message);
  }
  const account = accountReply.body;
  const { type, provider } = typeAndProvider(account.type, account.provider);
  if (!type || !provider) return failure(account.name, tenant, `The catalog has no ${account.type}/${account.provider}.`);
  document.title = `${account.name} · Integration Accounts · patchbay`;
  const health = h('span', { class: 'header-health' }, healthBadge(account.last_test));
  const base = tenantHref(tenant.id, `/a/${encodeURIComponent(account.id)}`);
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Account views' },
    h('a', { class: ['tab', tab !== 'history' && 'active'], href: base, 'aria-current': tab !== 'history' ? 'page' : null }, 'Properties'),
    h('a', { class: ['tab', 'tab-history', tab === 'history' && 'active'], href: `${base}/history`, 'aria-current': tab === 'history' ? 'page' : null }, icon('history'), 'History'));
  const content = tab === 'history'
    ? historyPanel({ tenant: tenant.id, accountId: account.id, provider })
    : accountForm({
      tenant, type, provider, account, readOnly: readOnly(), contactFields: reference().contactFields,
      guardLeaving,
      onSaved: () => route(),
      onDeleted: () => { location.hash = tenantHref(tenant.id); },
      onReload: route,
      onTested: (report) => replace(health, healthBadge(report)),
    });
  shell({
    tenant,
    crumbs: [{ label: 'Call Center Configuration' }, { label: 'Integration Accounts', href: tenantHref(tenant.id) }, { label: account.name }],
    title: account.name,
    subtitle: h('span', { class: 'subtitle-badges' },
      h('span', { class: 'badge badge-type' }, type.label),
      type.providers.length > 1 ? h('span', { class: 'badge badge-neutral' }, provider.label) : null,
      account.enabled ? h('span', { class: 'badge badge-ok-soft' }, 'Enabled') : h('span', { class: 'badge badge-warn' }, 'Disabled'),
      health),
    body: [readOnly() ? h('p', { class: 'notice readonly-notice' }, icon('lock'), 'Read-only: as a viewer you can see this account, not change it.') : null, tabs, content],
    current: 'accounts',
  });
}

/**
 * The tenant, its Amazon AWS accounts and (with `jobId`) one export job, read at once.
 * @param {string} tenantId
 * @param {string} [jobId]
 * @returns {Promise<{tenant: import('./api.js').Reply, accounts: Account[], job: import('./api.js').Reply | null}>}
 */
async function exportData(tenantId, jobId) {
  const [tenant, accounts, job] = await Promise.all([
    call('GET', paths.tenant(tenantId)),
    call('GET', `${paths.accounts(tenantId)}?type=aws`),
    jobId ? call('GET', paths.exportJob(tenantId, jobId)) : null,
  ]);
  return { tenant, accounts: accounts.ok ? accounts.body.items : [], job };
}

/** @type {Crumb} */
const EXPORT_CRUMB = { label: 'Recording Export' };

/**
 * @param {number} nav
 * @param {string} tenantId
 */
async function exportsPage(nav, tenantId) {
  loading('Recording Export');
  const [{ tenant, accounts }, jobs] = await Promise.all([exportData(tenantId), call('GET', paths.exportJobs(tenantId))]);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Recording Export', null, tenant.message);
  if (!jobs.ok) return failure('Recording Export', tenant.body, jobs.message);
  document.title = `Recording Export · ${tenant.body.name} · patchbay`;
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Call Center Configuration' }, EXPORT_CRUMB],
    title: 'Recording Export',
    subtitle: `Periodic export jobs that upload the call recordings of ${tenant.body.name} to Amazon S3 buckets.`,
    body: exportJobsList({
      tenant: tenant.body,
      jobs: jobs.body.items,
      accounts,
      readOnly: readOnly(),
      reload: async () => (await load(paths.exportJobs(tenantId))).body.items,
    }),
    current: 'exports',
  });
}

/**
 * @param {number} nav
 * @param {string} tenantId
 */
async function exportNewPage(nav, tenantId) {
  loading('New export job');
  const { tenant, accounts } = await exportData(tenantId);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('New export job', null, tenant.message);
  if (readOnly()) {
    location.replace(tenantHref(tenantId, '/exports'));
    return;
  }
  document.title = 'New export job · patchbay';
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Call Center Configuration' }, { ...EXPORT_CRUMB, href: tenantHref(tenantId, '/exports') }, { label: 'New' }],
    title: 'New export job',
    body: exportJobForm({
      tenant: tenant.body, job: null, accounts, readOnly: false, settings: reference().exportSettings, guardLeaving,
      onSaved: (saved) => { location.hash = jobHref(tenantId, saved.id); },
    }),
    current: 'exports',
  });
  /** @type {HTMLElement} */ (document.getElementById('job-name')).focus();
}

/**
 * @param {number} nav
 * @param {string} tenantId
 * @param {string} id
 * @param {string | undefined} tab
 */
async function exportJobPage(nav, tenantId, id, tab) {
  loading('Export job');
  const data = await exportData(tenantId, id);
  const { tenant, accounts } = data;
  const reply = /** @type {import('./api.js').Reply} */ (data.job);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Export job', null, tenant.message);
  if (!reply.ok) return failure('Export job', tenant.body, reply.status === 404 ? 'This export job does not exist (any more).' : reply.message);
  /** @type {ExportJob} */
  const job = reply.body;
  const account = accounts.find((a) => a.id === job.account_id);
  const settings = tab === 'settings';
  const base = jobHref(tenantId, job.id);
  document.title = `${job.name} · Recording Export · patchbay`;
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Export job views' },
    h('a', { class: ['tab', 'tab-runs', !settings && 'active'], href: base, 'aria-current': settings ? null : 'page' }, icon('history'), 'Runs'),
    h('a', { class: ['tab', 'tab-settings', settings && 'active'], href: `${base}/settings`, 'aria-current': settings ? 'page' : null }, 'Settings'));
  const content = settings
    ? exportJobForm({
      tenant: tenant.body, job, accounts, readOnly: readOnly(), settings: reference().exportSettings, guardLeaving,
      onSaved: () => route(),
      onDeleted: () => { location.hash = tenantHref(tenantId, '/exports'); },
      onReload: route,
    })
    : runsPanel({ tenant: tenantId, job, account, categories: reference().categories, readOnly: readOnly() });
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Call Center Configuration' }, { ...EXPORT_CRUMB, href: tenantHref(tenantId, '/exports') }, { label: job.name }],
    title: job.name,
    subtitle: h('span', { class: 'subtitle-badges' },
      job.enabled ? h('span', { class: 'badge badge-ok-soft' }, 'Enabled') : h('span', { class: 'badge badge-warn' }, 'Disabled'),
      h('span', { class: 'badge badge-type', title: 'AWS account' }, account ? account.name : 'Unknown account'),
      h('span', { class: 'muted' }, `Services: ${job.services.join(', ')}`)),
    body: [readOnly() ? h('p', { class: 'notice readonly-notice' }, icon('lock'), 'Read-only: as a viewer you can see this export job and its runs, not change or run it.') : null, tabs, content],
    current: 'exports',
  });
}

/** @type {Crumb} */
const RECORDS_CRUMB = { label: 'Interaction Records' };

/**
 * The search of the tenant's recordings, its filters in the URL's query.
 * @param {number} nav
 * @param {string} tenantId
 * @param {URLSearchParams} query
 */
async function recordsPage(nav, tenantId, query) {
  loading('Interaction Records');
  const tenant = await call('GET', paths.tenant(tenantId));
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Interaction Records', null, tenant.message);
  document.title = `Interaction Records · ${tenant.body.name} · patchbay`;
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Interactions' }, RECORDS_CRUMB],
    title: 'Interaction Records',
    subtitle: `Find the recorded calls of ${tenant.body.name}, play them and read their transcripts.`,
    body: recordsView({
      tenant: tenant.body,
      query,
      names: reference().recordNames,
      onSearch: (q) => { location.hash = recordsHref(tenantId, q ? `?${q}` : ''); },
    }),
    current: 'records',
  });
}

/**
 * One recording: its details, the player, its exports and its transcript.
 * @param {number} nav
 * @param {string} tenantId
 * @param {string} id
 */
async function recordPage(nav, tenantId, id) {
  loading('Recording');
  const [tenant, recording, jobs, accounts] = await Promise.all([
    call('GET', paths.tenant(tenantId)), call('GET', paths.recording(tenantId, id)),
    call('GET', paths.exportJobs(tenantId)), call('GET', `${paths.accounts(tenantId)}?type=aws`)]);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Recording', null, tenant.message);
  if (!recording.ok) return failure('Recording', tenant.body, recording.status === 404 ? 'This recording does not exist (any more).' : recording.message);
  /** @type {import('./api.js').Recording} */
  const r = recording.body;
  const when = formatTime(r.call_started_at);
  document.title = `Call of ${when} · Interaction Records · patchbay`;
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Interactions' }, { ...RECORDS_CRUMB, href: searchHref(tenantId) }, { label: r.recording_id }],
    title: `Call of ${when}`,
    subtitle: `${r.customer_phone || 'Unknown number'} · ${r.service} · agent ${r.agent_login}`,
    body: [
      readOnly() ? h('p', { class: 'notice readonly-notice' }, icon('lock'), 'Read-only: as a viewer you can play and download recordings and read transcripts, not ask for new ones.') : null,
      recordView({
        tenant: tenant.body,
        recording: r,
        jobs: jobs.ok ? jobs.body.items : [],
        accountNames: accounts.ok ? Object.fromEntries(accounts.body.items.map((/** @type {Account} */ a) => [a.id, a.name])) : {},
        names: reference().recordNames,
        canTranscribe: !readOnly(),
      }),
    ],
    current: 'records',
  });
}

/**
 * The tenant's users, with its Admin SSO when single sign-on is on.
 * @param {number} nav
 * @param {string} tenantId
 */
async function usersPage(nav, tenantId) {
  loading('Users');
  const [tenant, users, sso] = await Promise.all([
    call('GET', paths.tenant(tenantId)), call('GET', paths.users(tenantId)), call('GET', paths.sso(tenantId))]);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Users', null, tenant.message);
  if (!users.ok) return failure('Users', tenant.body, users.message);
  document.title = `Users · ${tenant.body.name} · patchbay`;
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Access' }, { label: 'Users' }],
    title: 'Users',
    subtitle: `The people who sign in to this admin screen through the identity provider of ${tenant.body.name}.`,
    body: [
      readOnly() ? h('p', { class: 'notice readonly-notice' }, icon('lock'), 'Read-only: as a viewer you can see the users, not change them.') : null,
      usersView({
        tenant: tenant.body,
        users: users.body.items,
        sso: sso.ok ? sso.body : null,
        roles: reference().userRoles,
        readOnly: readOnly(),
        reload: async () => (await load(paths.users(tenantId))).body.items,
      }),
    ],
    current: 'users',
  });
}

/**
 * The tenant's agents, service statistics, feeds and running export runs, updated live.
 * @param {number} nav
 * @param {string} tenantId
 * @param {AbortSignal} signal Ends the page's stream.
 */
async function livePage(nav, tenantId, signal) {
  loading('Live');
  const [tenant, accounts] = await Promise.all([call('GET', paths.tenant(tenantId)), call('GET', paths.accounts(tenantId))]);
  if (nav !== navigation) return;
  if (!tenant.ok) return failure('Live', null, tenant.message);
  if (!accounts.ok) return failure('Live', tenant.body, accounts.message);
  document.title = `Live · ${tenant.body.name} · patchbay`;
  const view = liveView({
    tenant: tenant.body,
    accounts: accounts.body.items,
    states: reference().agentStates,
    href: (rest) => tenantHref(tenantId, rest),
    signal,
  });
  shell({
    tenant: tenant.body,
    crumbs: [{ label: 'Monitoring' }, { label: 'Live' }],
    title: 'Live',
    subtitle: h('div', { class: 'live-subtitle' }, h('span', {}, `Agents, services, feeds and export runs of ${tenant.body.name}, as they change.`), view.status),
    body: view.body,
    current: 'live',
  });
}

// ---------------------------------------------------------------- routing

async function route() {
  if (!session.principal || !session.reference) return;
  if (restoring) {
    restoring = false;
    if (location.hash === page.hash) return;
  }
  if (location.hash !== page.hash && page.unsaved) {
    const state = history.state;
    const target = state && typeof state.stamp === 'number' ? state.stamp : null;
    if (!(await mayLeave())) {
      // Stay: undo the step that left the page with the edits (a new entry or Forward is
      // undone by Back, Back by Forward), without showing the page again.
      restoring = true;
      if (target !== null && target < page.stamp) history.forward();
      else history.back();
      return;
    }
  }
  page.hash = location.hash;
  page.stamp = entryStamp();
  page.unsaved = null;
  navigation += 1;
  const nav = navigation;
  const signal = pageSignal();
  const [path, queryText] = (location.hash.replace(/^#/, '') || '/').split('?');
  const query = new URLSearchParams(queryText || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const p = session.principal;
  if (parts.length === 1 && parts[0] === 'signin') {
    location.replace('#/');
    return undefined;
  }
  // The service provider's own pages; anyone else goes to their tenant (a tenant admin
  // asking for the tokens to their tenant's).
  if (parts.length === 0 || (parts.length === 1 && ['tokens', 'keys'].includes(parts[0]))) {
    if (provider()) {
      if (parts.length === 0) return tenantsPage(nav, query);
      return parts[0] === 'tokens' ? tokensPage(nav, null) : keysPage(nav);
    }
    if (p.tenant) location.replace(tenantHref(p.tenant, parts[0] === 'tokens' && TOKEN_MANAGERS.includes(p.role) ? '/tokens' : ''));
    return undefined;
  }
  if (parts[0] === 't' && parts.length >= 2) {
    if (p.tenant && parts[1] !== p.tenant) {
      location.replace(tenantHref(p.tenant));
      return undefined;
    }
    if (parts.length === 2) return listPage(nav, parts[1], query);
    if (parts[2] === 'new' && parts.length === 5) return newPage(nav, parts[1], parts[3], parts[4], query.get('clone'));
    if (parts[2] === 'a' && parts.length >= 4) return accountPage(nav, parts[1], parts[3], parts[4]);
    if (parts[2] === 'exports' && parts.length === 3) return exportsPage(nav, parts[1]);
    if (parts[2] === 'exports' && parts[3] === 'new' && parts.length === 4) return exportNewPage(nav, parts[1]);
    if (parts[2] === 'exports' && parts.length <= 5) return exportJobPage(nav, parts[1], parts[3], parts[4]);
    if (parts[2] === 'users' && parts.length === 3) return usersPage(nav, parts[1]);
    if (parts[2] === 'recordings' && parts.length === 3) return recordsPage(nav, parts[1], query);
    if (parts[2] === 'recordings' && parts.length === 4) return recordPage(nav, parts[1], parts[3]);
    if (parts[2] === 'tokens' && parts.length === 3) {
      if (TOKEN_MANAGERS.includes(p.role)) return tokensPage(nav, parts[1]);
      location.replace(tenantHref(parts[1]));
      return undefined;
    }
    if (parts[2] === 'settings' && parts.length === 3) {
      if (provider()) return settingsPage(nav, parts[1]);
      location.replace(tenantHref(parts[1]));
      return undefined;
    }
    if (parts[2] === 'live' && parts.length === 3) return livePage(nav, parts[1], signal);
  }
  toast('That page does not exist; here is the start page.', 'error');
  location.replace('#/');
  return undefined;
}

window.addEventListener('hashchange', route);
window.addEventListener('patchbay:signed-out', () => {
  if (!session.principal) return;
  session.principal = null;
  setCsrf(null);
  forgetSearch();
  showSignIn('Your session has ended. Sign in again to continue.');
});

async function boot() {
  const reply = await call('GET', paths.session(), { signingIn: true });
  if (reply.ok && reply.status !== 204) await signedIn(reply.body);
  else if (reply.status === 204 || reply.status === 401) showSignIn();
  else replace(root, h('p', { class: 'boot-message error-text' }, `The server could not be reached: ${reply.message}`));
}

boot();
