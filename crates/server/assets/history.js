// @ts-check
// An account's audit trail: when, who, what, and which fields changed (secrets only as
// set / replaced / cleared: the audit never holds their values).

import { call, paths } from './api.js';
import { formatTime, h, replace } from './dom.js';

/** @type {Record<string, string>} */
const ACTIONS = { create: 'Created', update: 'Changed', delete: 'Deleted', test: 'Tested', 'test.unsaved': 'Tested unsaved values' };

/**
 * What an audit entry's action is called: "action.set_webhook" -> the catalog's label of
 * the provider's action ("Set Webhook").
 * @param {string} action
 * @param {import('./api.js').Provider} provider
 */
function actionLabel(action, provider) {
  if (ACTIONS[action]) return ACTIONS[action];
  const key = action.replace(/^action\./, '');
  const declared = provider.actions.find((a) => a.key === key);
  if (declared) return declared.label;
  const name = key.replace(/_/g, ' ');
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

/**
 * A value as the field shows it: a choice's label, Yes/No, sizes and mappings as
 * "label: value" pairs; never raw JSON.
 * @param {unknown} value
 * @param {import('./api.js').Field | undefined} field
 * @returns {string}
 */
function show(value, field) {
  if (value === null || value === undefined) return '—';
  if (field && field.kind === 'enum') {
    const choice = field.choices.find((c) => c.value === value);
    if (choice) return choice.label;
  }
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'string') return value === '' ? '(empty)' : value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.length ? value.map((v) => show(v, undefined)).join('; ') : '(none)';
  if (typeof value === 'object') {
    const sizes = field && field.kind === 'record_field_sizes' ? field.fields : [];
    const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
    if (!entries.length) return '(none)';
    return entries.map(([k, v]) => {
      const named = sizes.find((f) => f.key === k);
      return named ? `${named.label}: ${show(v, undefined)}${typeof v === 'number' ? ' characters' : ''}` : `${k} → ${show(v, undefined)}`;
    }).join(', ');
  }
  return String(value);
}

/**
 * @param {import('./api.js').AuditEntry} entry
 * @param {import('./api.js').Provider} provider
 */
function changeList(entry, provider) {
  const fieldOf = (/** @type {string} */ key) => provider.fields.find((f) => f.key === key);
  const labelOf = (/** @type {string} */ key) => (fieldOf(key) || { label: key }).label;
  const changes = entry.changes || {};
  const items = [];
  if (entry.action.startsWith('test') || entry.action.startsWith('action.')) {
    const ok = changes.status === 'ok';
    items.push(h('li', {}, h('span', { class: `badge ${ok ? 'badge-ok' : 'badge-failed'}` }, ok ? 'OK' : (changes.category || changes.status || 'failed').replace(/_/g, ' ')),
      ' ', changes.message || ''));
    return items;
  }
  if (entry.action === 'create') {
    items.push(h('li', {}, h('span', { class: 'change-field' }, 'Name'), ' ', h('span', { class: 'change-to' }, show(changes.name, undefined))));
    if (changes.enabled === false) items.push(h('li', {}, h('span', { class: 'badge badge-warn' }, 'Disabled')));
    for (const [key, value] of Object.entries(changes.properties || {})) {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key)), ' ', h('span', { class: 'change-to' }, show(value, fieldOf(key)))));
    }
    for (const [key, what] of Object.entries(changes.secrets || {})) {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key)), ' ', h('span', { class: 'badge badge-neutral' }, `secret ${what}`)));
    }
    return items;
  }
  for (const [key, value] of Object.entries(changes)) {
    if (key === 'action') {
      // A change made by an action (Generate random token): named by the action's label.
      const declared = provider.actions.find((a) => a.key === value);
      items.push(h('li', { class: 'change-action' }, 'By ', h('span', { class: 'change-field' }, declared ? declared.label : show(value, undefined))));
    } else if (key.startsWith('secrets.')) {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key.slice(8))), ' ', h('span', { class: 'badge badge-neutral' }, `secret ${value}`)));
    } else if (value && typeof value === 'object' && 'from' in value && 'to' in value) {
      const name = key.startsWith('properties.') ? key.slice(11) : key;
      items.push(h('li', {}, h('span', { class: 'change-field' }, name === 'name' ? 'Name' : name === 'enabled' ? 'Enabled' : labelOf(name)), ' ',
        h('del', { class: 'change-from' }, show(value.from, fieldOf(name))), ' → ', h('ins', { class: 'change-to' }, show(value.to, fieldOf(name)))));
    } else {
      items.push(h('li', {}, h('span', { class: 'change-field' }, labelOf(key)), ' ', show(value, fieldOf(key))));
    }
  }
  return items;
}

/**
 * The History tab of an account: fields and actions named by the provider's labels.
 * @param {{tenant: string, accountId: string, provider: import('./api.js').Provider}} args
 */
export function historyPanel({ tenant, accountId, provider }) {
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
      const changes = changeList(entry, provider);
      body.append(h('tr', { class: 'audit-row', dataset: { action: entry.action } },
        h('td', { class: 'nowrap' }, h('time', { datetime: entry.at }, formatTime(entry.at))),
        h('td', { title: entry.actor }, actorName(entry.actor)),
        h('td', {}, h('span', { class: `badge badge-action badge-action-${entry.action.split('.')[0]}` }, actionLabel(entry.action, provider))),
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
