// @ts-check
// The Integration Accounts list: every account of the tenant, grouped by type in the
// catalog's order, filterable by type and name, with health from the last test and, for
// accounts that push live data, the state of their feed.

import { h, icon, replace, timeEl } from './dom.js';
import { healthBadge } from './report.js';

/** The spec's own words for what integration accounts are. */
const WHAT_THEY_ARE = 'Integration accounts specify parameters required for interoperability of your contact center '
  + 'solution with third-party systems, such as customer relationship management (CRM) and workforce management (WFM) applications.';

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
 * @param {object} args
 * @param {import('./api.js').Tenant} args.tenant
 * @param {import('./api.js').IntegrationType[]} args.catalog
 * @param {import('./api.js').Account[]} args.accounts
 * @param {Record<string, import('./api.js').FeedHealth>} [args.feeds] By account id.
 * @param {boolean} args.readOnly
 * @param {string} args.typeFilter
 * @param {(type: string) => void} args.onFilter
 * @param {() => void} args.onAdd
 */
export function accountsList({ tenant, catalog, accounts, feeds = {}, readOnly, typeFilter, onFilter, onAdd }) {
  const typeOf = Object.fromEntries(catalog.map((t) => [t.key, t]));
  /** @param {import('./api.js').Account} a */
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

  const search = h('input', { type: 'search', id: 'filter-name', class: 'input', placeholder: 'Name or provider', autocomplete: 'off' });
  const present = catalog.filter((t) => accounts.some((a) => a.type === t.key));
  const typeSelect = h('select', { id: 'filter-type', class: 'input' },
    h('option', { value: '' }, `All types (${accounts.length})`),
    present.map((t) => h('option', { value: t.key }, `${t.label} (${accounts.filter((a) => a.type === t.key).length})`)));
  typeSelect.value = present.some((t) => t.key === typeFilter) ? typeFilter : '';
  const thead = h('thead', {}, h('tr', {},
    h('th', { scope: 'col', class: 'col-name' }, 'Name'),
    h('th', { scope: 'col', class: 'col-provider' }, 'Provider'),
    h('th', { scope: 'col', class: 'col-state' }, 'State'),
    h('th', { scope: 'col', class: 'col-health' }, 'Health'),
    h('th', { scope: 'col', class: 'col-updated' }, 'Last changed')));
  const table = h('table', { class: 'table accounts-table' });
  const none = h('p', { class: 'muted no-match', hidden: true }, 'No account matches the filter.');

  const render = () => {
    const text = search.value.trim().toLowerCase();
    const chosen = typeSelect.value;
    const shown = present
      .filter((t) => !chosen || t.key === chosen)
      .map((t) => ({
        type: t,
        rows: accounts
          .filter((a) => a.type === t.key)
          .filter((a) => !text || a.name.toLowerCase().includes(text) || providerLabel(a).toLowerCase().includes(text))
          .sort((a, b) => a.name.localeCompare(b.name)),
      }))
      .filter((g) => g.rows.length);
    none.hidden = shown.length > 0;
    table.hidden = shown.length === 0;
    replace(table, thead, shown.map(({ type, rows }) => h('tbody', { class: 'group', dataset: { type: type.key } },
      h('tr', { class: 'group-row' }, h('th', { scope: 'colgroup', colspan: 5 }, type.label, h('span', { class: 'count' }, String(rows.length)))),
      rows.map((a) => h('tr', { class: 'account-row', dataset: { id: a.id, type: a.type } },
        h('td', { class: 'col-name' }, h('a', { class: 'account-link', href: `#/t/${encodeURIComponent(tenant.id)}/a/${encodeURIComponent(a.id)}` }, a.name)),
        h('td', { class: 'col-provider' }, providerLabel(a)),
        h('td', { class: 'col-state' }, a.enabled ? h('span', { class: 'badge badge-ok-soft' }, 'Enabled') : h('span', { class: 'badge badge-warn' }, 'Disabled')),
        h('td', { class: 'col-health' }, healthBadge(a.last_test), feedBadge(feeds[a.id])),
        h('td', { class: 'col-updated' }, timeEl(a.updated_at)))))));
  };
  search.addEventListener('input', render);
  typeSelect.addEventListener('change', () => {
    onFilter(typeSelect.value);
    render();
  });
  render();

  return h('div', { class: 'list-page' },
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'toolbar-field' }, h('label', { for: 'filter-name', class: 'toolbar-label' }, 'Filter'),
        h('div', { class: 'search-box' }, icon('search'), search)),
      h('div', { class: 'toolbar-field' }, h('label', { for: 'filter-type', class: 'toolbar-label' }, 'Type'), typeSelect),
      h('p', { class: 'toolbar-summary muted' }, `${accounts.length} ${accounts.length === 1 ? 'account' : 'accounts'}`)),
    h('section', { class: 'card list-card', 'aria-label': 'Integration accounts' }, table, none), bottom);
}
