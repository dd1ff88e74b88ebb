// @ts-check
// The Integration Accounts list: every account of the tenant, grouped by type in the
// catalog's order and sortable within the groups, filterable by type and text (the filter
// and the order live in the URL), with health from the last test and, for accounts that
// push live data, the state of their feed. Administrators test every enabled account from
// here and see each row's health change as its result comes in.

import { call, paths } from './api.js';
import { h, icon, replace, timeEl } from './dom.js';
import { healthBadge } from './report.js';
import { sortableTable } from './table.js';

/**
 * @typedef {import('./api.js').Account} Account
 * @typedef {import('./table.js').SortOrder} SortOrder
 */

/** The spec's own words for what integration accounts are. */
const WHAT_THEY_ARE = 'Integration accounts specify parameters required for interoperability of your contact center '
  + 'solution with third-party systems, such as customer relationship management (CRM) and workforce management (WFM) applications.';

/** Accounts tested at once by Test all (the server refuses more than its test slots with 429). */
const TEST_CONCURRENCY = 3;

/** How long a copy button says "Copied". */
const COPIED_MS = 2000;

/**
 * The list's filter and order, as kept in the URL (`?type=…&q=…&sort=name` or `sort=-name`).
 * @typedef {object} ListView
 * @property {string} type
 * @property {string} q
 * @property {SortOrder | null} sort
 */

/**
 * Reads the list's view from the URL's query.
 * @param {URLSearchParams} query
 * @returns {ListView}
 */
export function viewFromQuery(query) {
  const raw = query.get('sort') || '';
  const key = raw.replace(/^-/, '');
  return { type: query.get('type') || '', q: query.get('q') || '', sort: key ? { key, descending: raw.startsWith('-') } : null };
}

/**
 * The URL query of a view ('' when it is the default one).
 * @param {ListView} view
 */
export function queryOfView(view) {
  const query = new URLSearchParams();
  if (view.type) query.set('type', view.type);
  if (view.q) query.set('q', view.q);
  if (view.sort) query.set('sort', `${view.sort.descending ? '-' : ''}${view.sort.key}`);
  const text = query.toString();
  return text ? `?${text}` : '';
}

/**
 * The state of an account's live feed (WFM, Loxysoft, NICE, statistics receiver), if it has one.
 * @param {import('./api.js').FeedHealth | undefined} feed
 */
function feedBadge(feed) {
  if (!feed) return null;
  const title = feed.last_error ? `Last error: ${feed.last_error}` : `${feed.sent} sent, ${feed.failed} failed`;
  if (feed.status === 'running' && feed.connected) {
    return h('span', { class: 'badge badge-ok-soft feed-badge', title }, 'Feed live');
  }
  if (feed.status === 'invalid_config') return h('span', { class: 'badge badge-failed feed-badge', title }, 'Feed misconfigured');
  if (feed.status === 'starting') return h('span', { class: 'badge badge-neutral feed-badge', title }, 'Feed starting');
  return h('span', { class: 'badge badge-warn feed-badge', title }, 'Feed retrying');
}

/**
 * How health sorts: failing first, then untested, then healthy.
 * @param {Account} a
 */
function healthRank(a) {
  const status = a.last_test && a.last_test.status;
  if (status === 'failed') return 0;
  if (status === 'ok') return 2;
  return 1;
}

/**
 * A button that puts `text` on the clipboard and says "Copied" for a moment.
 * @param {object} args
 * @param {string} args.text What is copied.
 * @param {string} args.label The button's visible label ("ID").
 * @param {string} args.what What it copies, for assistive technology ("the ID of Zendesk").
 * @param {string} args.className
 * @param {HTMLElement} args.status Where "Copied …" is announced.
 */
function copyButton({ text, label, what, className, status }) {
  const shown = h('span', { class: 'copy-label action-label' }, label);
  const button = h('button', { type: 'button', class: ['btn', 'btn-ghost', 'btn-small', 'copy-button', className], title: `Copy ${what}` },
    icon('copy'), shown, h('span', { class: 'sr-only' }, ` (copy ${what})`));
  /** @type {number | undefined} */
  let timer;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      status.textContent = `Your browser did not allow copying ${what}.`;
      return;
    }
    button.classList.add('is-copied');
    shown.textContent = 'Copied';
    status.textContent = `Copied ${what}.`;
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      button.classList.remove('is-copied');
      shown.textContent = label;
    }, COPIED_MS);
  });
  return button;
}

/**
 * @param {object} args
 * @param {import('./api.js').Tenant} args.tenant
 * @param {import('./api.js').IntegrationType[]} args.catalog
 * @param {Account[]} args.accounts
 * @param {Record<string, import('./api.js').FeedHealth>} [args.feeds] By account id.
 * @param {boolean} args.readOnly
 * @param {ListView} args.view The filter and order to start with.
 * @param {(view: ListView) => void} args.onView Hears of each change of the filter or order.
 * @param {() => void} args.onAdd
 * @param {(account: Account) => string} args.cloneHref Where cloning an account starts.
 */
export function accountsList({ tenant, catalog, accounts, feeds = {}, readOnly, view, onView, onAdd, cloneHref }) {
  const typeOf = Object.fromEntries(catalog.map((t) => [t.key, t]));
  /** @param {Account} a */
  const providerLabel = (a) => {
    const t = typeOf[a.type];
    const p = t && t.providers.find((x) => x.key === a.provider);
    return p ? p.label : a.provider;
  };
  const addButton = readOnly ? null : h('button', { type: 'button', class: 'fab add-account', onclick: onAdd, title: 'Add integration account' },
    icon('plus'), h('span', { class: 'fab-label' }, 'Add integration account'));
  const bottom = h('div', { class: 'bottom-bar' },
    readOnly ? h('p', { class: 'muted small' }, 'Read-only access: you can view accounts and their history, not change them.') : addButton);

  if (accounts.length === 0) {
    return h('div', { class: 'list-page' },
      h('section', { class: 'empty card' },
        h('div', { class: 'empty-icon' }, icon('plug')),
        h('h2', {}, 'No integration accounts yet'),
        h('p', {}, WHAT_THEY_ARE),
        h('p', { class: 'muted' }, readOnly
          ? 'An administrator of this contact center can add them.'
          : 'Select the add “+” button at the bottom of the screen to add a new integration account: CRMs, messengers, speech engines, workforce management and more.')),
      bottom);
  }

  const copied = h('p', { class: 'sr-only copy-status', role: 'status' });
  const search = h('input', { type: 'search', id: 'filter-name', class: 'input', placeholder: 'e.g. a name or provider', autocomplete: 'off', value: view.q });
  const present = catalog.filter((t) => accounts.some((a) => a.type === t.key));
  const typeSelect = h('select', { id: 'filter-type', class: 'input' },
    h('option', { value: '' }, `All types (${accounts.length})`),
    present.map((t) => h('option', { value: t.key }, `${t.label} (${accounts.filter((a) => a.type === t.key).length})`)));
  typeSelect.value = present.some((t) => t.key === view.type) ? view.type : '';
  const summary = h('p', { class: 'toolbar-summary muted', role: 'status' });
  const none = h('p', { class: 'muted no-match', hidden: true }, 'No account matches the filter.');

  /** @type {import('./table.js').Column<Account>[]} */
  const columns = [
    {
      key: 'name', label: 'Name', rowHeader: true, sortBy: (a) => a.name,
      cell: (a) => [
        h('a', { class: 'account-link', href: `#/t/${encodeURIComponent(tenant.id)}/a/${encodeURIComponent(a.id)}` }, a.name),
        // Where the State column does not fit (a narrow screen), the name says it instead.
        a.enabled ? null : h('span', { class: 'badge badge-warn state-inline' }, 'Disabled'),
      ],
    },
    { key: 'provider', label: 'Provider', sortBy: providerLabel, cell: providerLabel },
    {
      key: 'state', label: 'State', sortBy: (a) => (a.enabled ? 0 : 1),
      cell: (a) => (a.enabled ? h('span', { class: 'badge badge-ok-soft' }, 'Enabled') : h('span', { class: 'badge badge-warn' }, 'Disabled')),
    },
    {
      key: 'health', label: 'Health', sortBy: healthRank,
      cell: (a) => [h('span', { class: 'health-slot' }, healthBadge(a.last_test)), feedBadge(feeds[a.id])],
    },
    { key: 'updated', label: 'Last changed', sortBy: (a) => a.updated_at, cell: (a) => timeEl(a.updated_at) },
    {
      key: 'actions', label: 'Actions',
      cell: (a) => h('div', { class: 'row-actions' },
        copyButton({ text: a.id, label: 'ID', what: `the ID of ${a.name}`, className: 'copy-id', status: copied }),
        a.inbound_webhook_url
          ? copyButton({ text: new URL(a.inbound_webhook_url, location.origin).href, label: 'Webhook URL', what: `the webhook URL of ${a.name}`, className: 'copy-webhook', status: copied })
          : null,
        readOnly ? null : h('a', { class: 'btn btn-ghost btn-small clone-account', href: cloneHref(a), title: `Clone ${a.name}` },
          icon('plus'), h('span', { class: 'action-label' }, 'Clone'), h('span', { class: 'sr-only' }, ` ${a.name}`))),
    },
  ];

  const table = sortableTable({
    label: 'Integration accounts',
    columns,
    rows: [],
    sort: view.sort || { key: 'name', descending: false },
    tableClass: 'accounts-table',
    rowClass: 'account-row',
    rowData: (a) => ({ id: a.id, type: a.type }),
    group: {
      of: (a) => a.type,
      order: present.map((t) => t.key),
      header: (key, rows) => [typeOf[key].label, h('span', { class: 'count' }, String(rows.length))],
    },
    onSort: (order) => {
      view.sort = order;
      onView(view);
    },
  });

  const render = () => {
    const text = search.value.trim().toLowerCase();
    const chosen = typeSelect.value;
    const shown = accounts
      .filter((a) => !chosen || a.type === chosen)
      .filter((a) => !text || a.name.toLowerCase().includes(text) || providerLabel(a).toLowerCase().includes(text));
    table.update(shown);
    none.hidden = shown.length > 0;
    table.element.hidden = shown.length === 0;
    const noun = accounts.length === 1 ? 'account' : 'accounts';
    summary.textContent = shown.length === accounts.length ? `${accounts.length} ${noun}` : `${shown.length} of ${accounts.length} ${noun}`;
  };
  const changed = () => {
    view.q = search.value.trim();
    view.type = typeSelect.value;
    onView(view);
    render();
  };
  search.addEventListener('input', changed);
  typeSelect.addEventListener('change', changed);
  render();

  return h('div', { class: 'list-page' },
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'toolbar-field' }, h('label', { for: 'filter-name', class: 'toolbar-label' }, 'Filter'),
        h('div', { class: 'search-box' }, icon('search'), search)),
      h('div', { class: 'toolbar-field' }, h('label', { for: 'filter-type', class: 'toolbar-label' }, 'Type'), typeSelect),
      summary),
    readOnly ? null : testAll(tenant, accounts),
    copied,
    h('section', { class: 'card list-card', 'aria-label': 'Integration accounts' }, table.element, none), bottom);
}

/**
 * Test all: tests each enabled account with its own request, a few at a time, and shows
 * each result in its row as it comes (the bulk operation answers only once all are done).
 * @param {import('./api.js').Tenant} tenant
 * @param {Account[]} accounts
 */
function testAll(tenant, accounts) {
  const start = h('button', { type: 'button', class: 'btn btn-secondary test-all' }, icon('refresh'), 'Test all');
  const stop = h('button', { type: 'button', class: 'btn btn-secondary btn-small test-all-stop', hidden: true }, 'Stop');
  const progress = h('p', { class: 'test-all-progress', 'aria-live': 'polite' });
  let stopping = false;

  /** @param {Account} account */
  const testOne = async (account) => {
    const cell = /** @type {HTMLElement | null} */ (document.querySelector(`.account-row[data-id="${account.id}"] .health-slot`));
    if (cell) replace(cell, h('span', { class: 'badge badge-neutral testing' }, 'Testing…'));
    let reply = await call('POST', paths.testSaved(tenant.id, account.id), { body: {} });
    // The server's test slots are shared with everyone testing: wait for a free one.
    while (reply.status === 429 && !stopping) {
      await new Promise((resolve) => { setTimeout(resolve, 1000); });
      reply = await call('POST', paths.testSaved(tenant.id, account.id), { body: {} });
    }
    /** @type {import('./api.js').TestReport | null} */
    const report = reply.ok ? reply.body : { status: 'failed', message: reply.message };
    if (reply.ok) account.last_test = report;
    const now = /** @type {HTMLElement | null} */ (document.querySelector(`.account-row[data-id="${account.id}"] .health-slot`));
    if (now) replace(now, healthBadge(reply.ok ? report : account.last_test));
    return reply.ok && report && report.status === 'failed';
  };

  start.addEventListener('click', async () => {
    const queue = accounts.filter((a) => a.enabled);
    const total = queue.length;
    let done = 0;
    let failing = 0;
    const say = (/** @type {string} */ prefix) => {
      progress.textContent = `${prefix} ${done} of ${total}${failing ? ` — ${failing} failing` : ''}`;
    };
    if (total === 0) {
      progress.textContent = 'No account is enabled: there is nothing to test.';
      return;
    }
    stopping = false;
    start.disabled = true;
    stop.hidden = false;
    stop.disabled = false;
    stop.focus();
    say('Tested');
    const worker = async () => {
      for (let next = queue.shift(); next && !stopping; next = queue.shift()) {
        if (await testOne(next)) failing += 1;
        done += 1;
        say('Tested');
      }
    };
    await Promise.all(Array.from({ length: Math.min(TEST_CONCURRENCY, total) }, worker));
    if (stopping) say('Stopped after testing');
    else progress.textContent = `Tested all ${total}${failing ? ` — ${failing} failing` : ' — all healthy'}`;
    start.disabled = false;
    stop.hidden = true;
    start.focus();
  });
  stop.addEventListener('click', () => {
    stopping = true;
    stop.disabled = true;
    progress.textContent = 'Stopping: the tests already running finish…';
  });
  return h('div', { class: 'test-all-bar' }, start, stop, progress);
}
