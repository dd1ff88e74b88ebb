// @ts-check
// The master keys, for the service provider, read-only: which key seals new secret values,
// the keys in the ring with how many values each seals, and when the ring last rotated.
// Rotation itself runs from the command line (it loops over every value, resumably).

import { h, icon, timeEl } from './dom.js';
import { sortableTable } from './table.js';

/**
 * @typedef {import('./api.js').KeyStatus} KeyStatus
 * @typedef {import('./api.js').KeyInfo} KeyInfo
 */

/**
 * When the ring last rotated: the newest rotation time of its keys; `never` for a ring
 * that still has only the key it was created with; `unknown` when rotated before patchbay
 * recorded rotation times.
 * @param {KeyStatus} status
 * @returns {string | 'never' | 'unknown'}
 */
function lastRotation(status) {
  const times = status.keys.map((k) => k.rotated_at).filter((t) => t !== null).sort();
  if (times.length) return /** @type {string} */ (times[times.length - 1]);
  return status.keys.length <= 1 ? 'never' : 'unknown';
}

/**
 * @param {number} n
 */
function values(n) {
  return `${n} ${n === 1 ? 'value' : 'values'}`;
}

/**
 * The keys page's body.
 * @param {{status: KeyStatus}} args
 */
export function keysView({ status }) {
  const last = lastRotation(status);
  const older = status.keys.filter((k) => !k.active).reduce((sum, k) => sum + k.values, 0);
  const missing = status.keys.filter((k) => !k.in_ring);
  /** @type {import('./table.js').Column<KeyInfo>[]} */
  const columns = [
    { key: 'id', label: 'Key', rowHeader: true, sortBy: (k) => k.id, cell: (k) => h('span', { class: 'key-id' }, `Key ${k.id}`) },
    {
      key: 'state',
      label: 'State',
      cell: (k) => k.active
        ? h('span', { class: 'badge badge-ok-soft key-state' }, 'Active: seals new values')
        : k.in_ring
          ? h('span', { class: 'badge badge-neutral key-state' }, 'Older: opens values only')
          : h('span', { class: 'badge badge-failed key-state' }, 'Missing from this server’s key file'),
    },
    { key: 'values', label: 'Values it seals', sortBy: (k) => k.values, cell: (k) => h('span', { class: 'key-values' }, String(k.values)) },
    {
      key: 'added',
      label: 'Added',
      sortBy: (k) => k.rotated_at,
      cell: (k) => k.rotated_at ? timeEl(k.rotated_at) : h('span', { class: 'muted' }, k.id === Math.min(...status.keys.map((x) => x.id)) ? 'With the key file' : 'Not recorded'),
    },
  ];
  const table = sortableTable({ label: 'Master keys', columns, rows: status.keys, sort: { key: 'id', descending: true }, tableClass: 'keys-table', rowData: (k) => ({ id: String(k.id) }) });
  return h('div', { class: 'keys-page' },
    h('section', { class: 'card key-summary', 'aria-label': 'Summary' },
      h('dl', { class: 'meta' },
        h('dt', {}, 'Active key'), h('dd', { class: 'active-key' }, `Key ${status.active}`),
        h('dt', {}, 'Last rotation'), h('dd', { class: 'last-rotation' },
          last === 'never' ? 'Never: the key file still has its first key'
            : last === 'unknown' ? 'Not recorded (rotated before patchbay kept rotation times)'
              : timeEl(last)),
        h('dt', {}, 'Values under older keys'), h('dd', { class: 'older-values' }, older ? values(older) : 'None'))),
    missing.length
      ? h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'),
        h('div', {}, h('strong', {}, 'Some values are sealed by keys this server does not have.'),
          h('p', {}, 'Those values cannot be opened here. Copy the key file from the server that rotated the keys.')))
      : null,
    h('section', { class: 'card list-card', 'aria-label': 'Master keys' }, table.element),
    h('section', { class: 'card rotate-help', 'aria-labelledby': 'rotate-title' },
      h('h2', { class: 'card-title', id: 'rotate-title' }, 'Rotating the master key'),
      h('p', {}, 'Rotation adds a new key, seals every secret value again with it, and can retire the older keys. It runs from the command line, with a service-provider admin token, while the server runs:'),
      h('pre', { class: 'command' }, h('code', {}, 'patchbay keys rotate --retire-old')),
      h('p', { class: 'muted small' }, 'An interrupted rotation continues where it stopped when the command runs again. Keep a copy of the key file: without it, the values it seals cannot be opened.')));
}
