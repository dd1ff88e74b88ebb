// @ts-check
// Sortable tables, shared by every list of the admin screen: column headers are buttons
// (keyboard and screen readers reach them; `aria-sort` says the order), a second press
// reverses the order, and the table scrolls sideways inside its own box on a narrow
// screen rather than the whole page.

import { h, replace } from './dom.js';

/**
 * A column: its header, how a row shows in it, and (for a sortable column) the value it
 * sorts by.
 * @template T
 * @typedef {object} Column
 * @property {string} key Names the column in `sort` and in the cells' classes (`col-<key>`).
 * @property {string} label
 * @property {(row: T) => import('./dom.js').Child} cell
 * @property {(row: T) => string | number | null} [sortBy] Without it the column does not sort.
 * @property {boolean} [rowHeader] The cell names its row (`<th scope="row">`).
 */

/**
 * How a table is sorted: a column's key and the direction.
 * @typedef {{key: string, descending: boolean}} SortOrder
 */

/**
 * Compares two sort values: nulls last, numbers by value, text by the browser's collation.
 * @param {string | number | null} a
 * @param {string | number | null} b
 */
function compare(a, b) {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * Rows shown in groups (a `<tbody class="group">` each, with a header row): groups in
 * `order`, rows sorted within their group.
 * @template T
 * @typedef {object} Grouping
 * @property {(row: T) => string} of The group a row belongs to.
 * @property {string[]} order Every group key, in the order the groups show.
 * @property {(key: string, rows: T[]) => import('./dom.js').Child} header The group's header.
 */

/**
 * A sortable table. `update(rows)` shows new rows in the current order; the order changes
 * when a header is pressed, and `onSort` hears of it (to keep it in the URL, say).
 * @template T
 * @param {object} args
 * @param {string} args.label What the table lists, for assistive technology.
 * @param {Column<T>[]} args.columns
 * @param {T[]} args.rows
 * @param {SortOrder | null} [args.sort]
 * @param {(row: T) => Record<string, string>} [args.rowData] The `data-` attributes of a row.
 * @param {string} [args.tableClass]
 * @param {string} [args.rowClass]
 * @param {Grouping<T>} [args.group]
 * @param {(order: SortOrder) => void} [args.onSort]
 */
export function sortableTable({ label, columns, rows, sort = null, rowData, tableClass, rowClass, group, onSort }) {
  /** @type {SortOrder | null} */
  let order = sort && columns.some((c) => c.key === sort.key && c.sortBy) ? sort : null;
  let current = rows;
  const table = h('table', { class: ['table', tableClass] });
  const wrap = h('div', { class: 'table-scroll', role: 'region', 'aria-label': label, tabindex: '0' }, table);

  const sorted = () => {
    if (!order) return current;
    const column = /** @type {Column<T>} */ (columns.find((c) => c.key === order?.key));
    const by = /** @type {(row: T) => string | number | null} */ (column.sortBy);
    const sign = order.descending ? -1 : 1;
    return [...current].sort((a, b) => sign * compare(by(a), by(b)));
  };

  /** @param {Column<T>} column */
  const header = (column) => {
    if (!column.sortBy) return h('th', { scope: 'col', class: `col-${column.key}` }, column.label);
    const active = order && order.key === column.key;
    const direction = active ? (order?.descending ? 'descending' : 'ascending') : null;
    const button = h('button', { type: 'button', class: 'sort-button', dataset: { sort: column.key } },
      column.label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, direction === 'ascending' ? '▲' : direction === 'descending' ? '▼' : ''));
    button.addEventListener('click', () => {
      order = { key: column.key, descending: Boolean(active && !order?.descending) };
      render();
      if (onSort) onSort(order);
      /** @type {HTMLElement | null} */ (table.querySelector(`[data-sort="${column.key}"]`))?.focus();
    });
    return h('th', { scope: 'col', class: `col-${column.key}`, 'aria-sort': direction || 'none' }, button);
  };

  /** @param {T} row */
  const tr = (row) => h('tr', { class: rowClass, dataset: rowData ? rowData(row) : {} },
    columns.map((c) => h(c.rowHeader ? 'th' : 'td', { class: `col-${c.key}`, scope: c.rowHeader ? 'row' : null }, c.cell(row))));

  const render = () => {
    const all = sorted();
    const bodies = group
      ? group.order
        .map((key) => ({ key, rows: all.filter((row) => group.of(row) === key) }))
        .filter((g) => g.rows.length)
        .map((g) => h('tbody', { class: 'group', dataset: { group: g.key } },
          h('tr', { class: 'group-row' }, h('th', { scope: 'colgroup', colspan: columns.length }, group.header(g.key, g.rows))),
          g.rows.map(tr)))
      : h('tbody', {}, all.map(tr));
    replace(table, h('thead', {}, h('tr', {}, columns.map(header))), bodies);
  };
  render();
  return {
    element: wrap,
    /** @param {T[]} next */
    update(next) {
      current = next;
      render();
    },
    /** How the table is sorted now. */
    order: () => order,
  };
}
