// @ts-check
// An account's audit trail: when, who, what, and which fields changed (secrets only as
// set / replaced / cleared: the audit never holds their values).

import { call, paths } from './api.js';
import { formatTime, h, replace } from './dom.js';

/** @type {Record<string, string>} */
const ACTIONS = { create: 'Created', update: 'Changed', delete: 'Deleted', test: 'Tested', 'test.unsaved': 'Tested unsaved values' };

/**
 * "action.set_webhook" -> "Set webhook".
 * @param {string} action
 */
function actionLabel(action) {
  if (ACTIONS[action]) return ACTIONS[action];
  const name = action.replace(/^action\./, '').replace(/_/g, ' ');
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * "token:acme admin (0190…)" -> "acme admin", "user:ada@acme.example (0190…)" -> "ada@acme.example".
 * @param {string} actor
 */
export function actorName(actor) {
  const m = /^(?:token|user):(.*) \(([0-9a-f-]+)\)$/.exec(actor || '');
  return m ? m[1] : actor;
}

/** @param {unknown} value */
function show(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value === '' ? '""' : value;
  return JSON.stringify(value);
}

/**
 * @param {import('./api.js').AuditEntry} entry
 * @param {(key: string) => string} labelOf
 */
function changeList(entry, labelOf) {
  const changes = entry.changes || {};
  const items = [];
  if (entry.action.startsWith('test') || entry.action.startsWith('action.')) {
    const ok = changes.status === 'ok';
    items.push(h('li', {}, h('span', { class: `badge ${ok ? 'badge-ok' : 'badge-failed'}` }, ok ? 'OK' : (changes.category || changes.status || 'failed').replace(/_/g, ' ')),
      ' ', changes.message || ''));
    return items;
  }
  if (entry.action === 'create') {
    items.push(h('li', {}, h('span', { class: 'change-field' }, 'Name'), ' ', h('span', { class: 'change-to' }, show(changes.name))));
    if (changes.enabled === false) items.push(h('li', {}, h('span', { class: 'badge badge-warn' }, 'Disabled')));
    for (const [key, value] of Object.entries(changes.properties || {})) {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key)), ' ', h('span', { class: 'change-to' }, show(value))));
    }
    for (const [key, what] of Object.entries(changes.secrets || {})) {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key)), ' ', h('span', { class: 'badge badge-neutral' }, `secret ${what}`)));
    }
    return items;
  }
  for (const [key, value] of Object.entries(changes)) {
    if (key.startsWith('secrets.')) {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key.slice(8))), ' ', h('span', { class: 'badge badge-neutral' }, `secret ${value}`)));
    } else if (value && typeof value === 'object' && 'from' in value && 'to' in value) {
      const field = key.startsWith('properties.') ? labelOf(key.slice(11)) : labelOf(key);
      items.push(h('li', {}, h('span', { class: 'change-field' }, field), ' ',
        h('del', { class: 'change-from' }, show(value.from)), ' → ', h('ins', { class: 'change-to' }, show(value.to))));
    } else {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key)), ' ', show(value)));
    }
  }
  return items;
}

/**
 * The History tab of an account. `labelOf(key)` gives a property's label.
 * @param {{tenant: string, accountId: string, labelOf: (key: string) => string}} args
 */
export function historyPanel({ tenant, accountId, labelOf }) {
  const body = h('tbody');
  const status = h('p', { class: 'muted loading' }, 'Loading history…');
  const more = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true }, 'Show older entries');
  /** @type {number | null} */
  let before = null;

  const load = async () => {
    more.disabled = true;
    const query = before ? `?limit=50&before=${before}` : '?limit=50';
    const reply = await call('GET', `${paths.audit(tenant, accountId)}${query}`);
    more.disabled = false;
    if (!reply.ok) {
      replace(status, `The history could not be loaded: ${reply.message}`);
      status.className = 'error-text';
      return;
    }
    status.hidden = true;
    for (const entry of reply.body.items) {
      const changes = changeList(entry, labelOf);
      body.append(h('tr', { class: 'audit-row', dataset: { action: entry.action } },
        h('td', { class: 'nowrap' }, h('time', { datetime: entry.at }, formatTime(entry.at))),
        h('td', { title: entry.actor }, actorName(entry.actor)),
        h('td', {}, h('span', { class: `badge badge-action badge-action-${entry.action.split('.')[0]}` }, actionLabel(entry.action))),
        h('td', {}, changes.length ? h('ul', { class: 'change-list' }, changes) : h('span', { class: 'muted' }, 'No field changes'))));
    }
    if (!body.children.length) {
      status.hidden = false;
      replace(status, 'No history yet.');
    }
    before = reply.body.next_before;
    more.hidden = !before;
  };
  more.addEventListener('click', load);
  load();
  return h('section', { class: 'card history', 'aria-label': 'History' },
    h('table', { class: 'table audit-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'Action'), h('th', { scope: 'col' }, 'Changes'))),
      body),
    status,
    h('div', { class: 'history-more' }, more));
}
