// @ts-check
// Editors for the table-like property kinds of the catalog: a mapping table (skills
// mapping, reason codes mapping), a contact-field mapping (Next Caller, The Data Group) and
// record field sizes (WFM Aspect). Each returns a control: {el, value(), check(),
// showError(subPath, message), clearErrors(), focus()}. `check()` validates every row,
// shows what is wrong next to the row, and returns false when something is.

import { h, icon, uid } from './dom.js';

/**
 * @typedef {import('./api.js').Field} Field
 * @typedef {import('./api.js').ContactFields} ContactFields
 *
 * @typedef {object} Editor What each editor returns.
 * @property {HTMLElement} el
 * @property {() => unknown} value The value for the API.
 * @property {() => boolean} check Validates every row, marks the bad ones; false when one is.
 * @property {(sub: string, message: string) => boolean} showError Shows an API error on the row
 *   `sub` names; false when no row matches.
 * @property {() => void} clearErrors
 * @property {() => void} focus
 *
 * @typedef {object} EditorOptions
 * @property {boolean} readOnly
 * @property {string} labelledBy The id of the field's label.
 * @property {ContactFields} contactFields
 */

/**
 * A visually hidden <label for> carrying an input's aria-label, so every input has a label.
 * @param {HTMLElement} input
 */
function hiddenLabel(input) {
  input.id = input.id || uid('in');
  const text = input.getAttribute('aria-label');
  input.removeAttribute('aria-label');
  return h('label', { for: input.id, class: 'sr-only' }, text);
}

function rowError() {
  return h('p', { class: 'row-error', role: 'alert', hidden: true });
}

/**
 * @param {HTMLElement} el
 * @param {HTMLElement | null} input
 * @param {string | null} message
 */
function setRowError(el, input, message) {
  el.textContent = message || '';
  el.hidden = !message;
  if (input) {
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', el.id);
    } else {
      input.removeAttribute('aria-invalid');
      input.removeAttribute('aria-describedby');
    }
  }
}

/**
 * Why `text` is not a whole number from `min` to `max`, or null when it is one.
 * @param {string} text
 * @param {number} min
 * @param {number} max
 */
function integerText(text, min, max) {
  if (!/^-?\d+$/.test(text.trim())) return `must be a whole number from ${min} to ${max}`;
  const n = Number(text);
  if (n < min || n > max) return `must be from ${min} to ${max}`;
  return null;
}

/**
 * A table from a text key to a text or integer value. The API takes an object.
 * @param {Extract<Field, {kind: 'mapping'}>} field
 * @param {unknown} initial
 * @param {EditorOptions} options
 * @returns {Editor}
 */
export function mappingEditor(field, initial, { readOnly, labelledBy }) {
  const kind = field.value;
  /** @type {{keyInput: HTMLInputElement, valueInput: HTMLInputElement, error: HTMLElement, el: HTMLElement}[]} */
  const rows = [];
  const list = h('div', { class: 'map-rows' });
  const empty = h('p', { class: 'map-empty muted' }, 'No rows yet.');
  const head = h('div', { class: 'map-row map-head', 'aria-hidden': 'true' },
    h('span', {}, field.key_label), h('span', {}, field.value_label), h('span', {}));

  /**
   * @param {string} key
   * @param {unknown} value
   */
  const addRow = (key, value) => {
    const n = rows.length + 1;
    const keyInput = h('input', { type: 'text', class: 'input map-key', value: key, maxlength: 255, disabled: readOnly, 'aria-label': `${field.key_label}, row ${n}` });
    const valueInput = kind.type === 'integer'
      ? h('input', { type: 'number', class: 'input map-value', value: value === undefined ? '' : String(value), min: kind.min, max: kind.max, step: 1, inputmode: 'numeric', disabled: readOnly, 'aria-label': `${field.value_label}, row ${n}` })
      : h('input', { type: 'text', class: 'input map-value', value: value === undefined ? '' : String(value), maxlength: kind.max_len, disabled: readOnly, 'aria-label': `${field.value_label}, row ${n}` });
    const error = rowError();
    error.id = uid('row-error');
    const row = { keyInput, valueInput, error, el: h('div', { class: 'map-item' }) };
    const remove = readOnly ? h('span', {}) : h('button', {
      type: 'button', class: 'icon-button map-remove', 'aria-label': `Remove row ${n}`, title: 'Remove row',
      onclick: () => {
        rows.splice(rows.indexOf(row), 1);
        row.el.remove();
        empty.hidden = rows.length > 0;
        check();
      },
    }, icon('trash'));
    row.el.append(h('div', { class: 'map-row' }, hiddenLabel(keyInput), keyInput, hiddenLabel(valueInput), valueInput, remove), error);
    // While a row is being filled in, only what is already wrong shows (a duplicate, a
    // number out of range); a missing half of a row is pointed out when the form is saved,
    // not when the user tabs from the first half to the second.
    keyInput.addEventListener('change', () => check(false));
    valueInput.addEventListener('change', () => check(false));
    rows.push(row);
    list.append(row.el);
    empty.hidden = true;
    return row;
  };

  const filled = () => rows.filter((r) => r.keyInput.value.trim() !== '' || r.valueInput.value.trim() !== '');

  /**
   * Marks what is wrong with each row; false when something is.
   * @param {boolean} [complete] Also require both halves of every row that has one.
   */
  const check = (complete = true) => {
    const seen = new Map();
    let ok = true;
    for (const r of rows) {
      const key = r.keyInput.value.trim();
      const value = r.valueInput.value.trim();
      let message = null;
      let input = null;
      if (key === '' && value === '') {
        message = null;
      } else if (key !== '' && seen.has(key.toLowerCase())) {
        [message, input] = [`“${key}” appears twice.`, r.keyInput];
      } else if (value !== '' && kind.type === 'integer' && integerText(r.valueInput.value, kind.min, kind.max)) {
        [message, input] = [`${field.value_label} ${integerText(r.valueInput.value, kind.min, kind.max)}.`, r.valueInput];
      } else if (complete && key === '') {
        [message, input] = [`Enter the ${field.key_label.toLowerCase()}.`, r.keyInput];
      } else if (complete && value === '') {
        [message, input] = [`Enter the ${field.value_label.toLowerCase()}.`, r.valueInput];
      }
      if (key !== '') seen.set(key.toLowerCase(), true);
      // Both halves are cleared first, so a mark moves with the problem instead of staying behind.
      setRowError(r.error, r.keyInput, null);
      setRowError(r.error, r.valueInput, null);
      setRowError(r.error, input, message);
      if (message) ok = false;
    }
    return ok;
  };

  // Once a row shows a problem, it is checked again as the user types, so it clears when
  // fixed; a missing half stays required only if it was already pointed out.
  list.addEventListener('input', () => {
    const shown = [...list.querySelectorAll('.row-error:not([hidden])')].map((e) => e.textContent || '');
    if (shown.length) check(shown.some((t) => t.startsWith('Enter the')));
  });
  for (const [k, v] of Object.entries(initial || {})) addRow(k, v);
  empty.hidden = rows.length > 0;
  const add = readOnly ? null : h('button', {
    type: 'button', class: 'btn btn-secondary btn-small map-add',
    onclick: () => addRow('', undefined).keyInput.focus(),
  }, icon('plus'), 'Add row');

  return {
    el: h('div', { class: 'map-editor', role: 'group', 'aria-labelledby': labelledBy }, head, list, empty, add),
    value() {
      /** @type {Record<string, unknown>} */
      const out = {};
      for (const r of filled()) {
        const text = r.valueInput.value.trim();
        out[r.keyInput.value.trim()] = kind.type === 'integer' && /^-?\d+$/.test(text) ? Number(text) : text;
      }
      return out;
    },
    check,
    showError(sub, message) {
      const row = rows.find((r) => r.keyInput.value.trim() === sub);
      if (!row) return false;
      setRowError(row.error, row.keyInput, message);
      return true;
    },
    clearErrors() {
      for (const r of rows) setRowError(r.error, r.keyInput, null);
    },
    focus() {
      const bad = /** @type {HTMLElement | null} */ (list.querySelector('[aria-invalid="true"]'));
      (bad || list.querySelector('input') || add || list).focus();
    },
  };
}

const CUSTOM = '__custom__';

/**
 * @typedef {object} ContactRow
 * @property {HTMLInputElement} externalInput
 * @property {HTMLSelectElement} contactSelect
 * @property {HTMLInputElement} customInput
 * @property {HTMLElement} error
 * @property {HTMLElement} el
 */

/**
 * Rows of external (vendor) field -> contact field. The API takes [{external_field, contact_field}].
 * @param {Field} _field
 * @param {unknown} initial
 * @param {EditorOptions} options
 * @returns {Editor}
 */
export function contactMappingEditor(_field, initial, { readOnly, labelledBy, contactFields }) {
  /** @type {ContactRow[]} */
  const rows = [];
  /** @type {ContactRow[]} The rows `value()` last sent, which the API's `[index]` errors name. */
  let sent = [];
  const list = h('div', { class: 'map-rows' });
  const empty = h('p', { class: 'map-empty muted' }, 'No fields mapped yet.');
  const head = h('div', { class: 'map-row map-head cmap', 'aria-hidden': 'true' },
    h('span', {}, 'External field'), h('span', {}, 'Contact field'), h('span', {}));
  const known = new Set([
    ...contactFields.basic.map((c) => c.value),
    ...contactFields.categories.flatMap((c) => c.choices.map((x) => x.value)),
  ]);

  /**
   * @param {string | null | undefined} current
   * @param {number} n
   */
  const select = (current, n) => {
    const s = h('select', { class: 'input cmap-contact', disabled: readOnly, 'aria-label': `Contact field, row ${n}` },
      h('option', { value: '' }, '<none>'),
      h('optgroup', { label: 'Contact' }, contactFields.basic.map((c) => h('option', { value: c.value }, c.label))),
      contactFields.categories.map((cat) => h('optgroup', { label: cat.label }, cat.choices.map((c) => h('option', { value: c.value }, c.label)))),
      h('optgroup', { label: 'Custom' }, h('option', { value: CUSTOM }, `${contactFields.custom.label}…`)));
    s.value = current === null || current === undefined ? '' : known.has(current) ? current : CUSTOM;
    return s;
  };

  /**
   * @param {string} external
   * @param {string | null | undefined} contact
   */
  const addRow = (external, contact) => {
    const n = rows.length + 1;
    const externalInput = h('input', { type: 'text', class: 'input cmap-external', value: external || '', maxlength: 255, disabled: readOnly, 'aria-label': `External field, row ${n}` });
    const contactSelect = select(contact, n);
    const isCustom = typeof contact === 'string' && contact.startsWith(contactFields.custom.prefix) && !known.has(contact);
    const customInput = h('input', {
      type: 'text', class: 'input cmap-custom', placeholder: 'my_custom_field', maxlength: 64, disabled: readOnly,
      value: isCustom ? contact.slice(contactFields.custom.prefix.length) : '', hidden: contactSelect.value !== CUSTOM,
      'aria-label': `Custom field name, row ${n}`,
    });
    const error = rowError();
    error.id = uid('row-error');
    const row = { externalInput, contactSelect, customInput, error, el: h('div', { class: 'map-item' }) };
    contactSelect.addEventListener('change', () => {
      customInput.hidden = contactSelect.value !== CUSTOM;
      if (!customInput.hidden) customInput.focus();
      check();
    });
    externalInput.addEventListener('change', () => check());
    customInput.addEventListener('change', () => check());
    const remove = readOnly ? h('span', {}) : h('button', {
      type: 'button', class: 'icon-button map-remove', 'aria-label': `Remove row ${n}`, title: 'Remove row',
      onclick: () => {
        rows.splice(rows.indexOf(row), 1);
        row.el.remove();
        empty.hidden = rows.length > 0;
        check();
      },
    }, icon('trash'));
    row.el.append(h('div', { class: 'map-row cmap' }, hiddenLabel(externalInput), externalInput,
      h('div', { class: 'cmap-target' }, hiddenLabel(contactSelect), contactSelect, hiddenLabel(customInput), customInput), remove), error);
    rows.push(row);
    list.append(row.el);
    empty.hidden = true;
    return row;
  };

  /** @param {ContactRow} r */
  const target = (r) => {
    if (r.contactSelect.value === CUSTOM) return `${contactFields.custom.prefix}${r.customInput.value.trim()}`;
    return r.contactSelect.value || null;
  };
  const filled = () => rows.filter((r) => r.externalInput.value.trim() !== '' || r.contactSelect.value !== '');

  const check = () => {
    const externals = new Set();
    const targets = new Set();
    const pattern = new RegExp(contactFields.custom.pattern);
    let ok = true;
    for (const r of rows) {
      const external = r.externalInput.value.trim();
      const t = target(r);
      let message = null;
      /** @type {HTMLElement} */
      let input = r.externalInput;
      if (external === '' && !t) {
        message = null;
      } else if (external === '') {
        message = 'Enter the external field.';
      } else if (externals.has(external)) {
        message = `“${external}” is mapped twice.`;
      } else if (r.contactSelect.value === CUSTOM && !pattern.test(r.customInput.value.trim())) {
        [message, input] = ['A custom field name is 1-64 characters of a-z, 0-9 and _.', r.customInput];
      } else if (t && targets.has(t)) {
        [message, input] = ['That contact field is already the target of another row.', r.contactSelect];
      }
      externals.add(external);
      if (t) targets.add(t);
      setRowError(r.error, input, message);
      if (message) ok = false;
    }
    return ok;
  };

  list.addEventListener('input', () => {
    if (list.querySelector('.row-error:not([hidden])')) check();
  });
  for (const row of Array.isArray(initial) ? initial : []) addRow(row.external_field, row.contact_field);
  empty.hidden = rows.length > 0;
  const add = readOnly ? null : h('button', {
    type: 'button', class: 'btn btn-secondary btn-small map-add',
    onclick: () => addRow('', null).externalInput.focus(),
  }, icon('plus'), 'Add field');

  return {
    el: h('div', { class: 'map-editor', role: 'group', 'aria-labelledby': labelledBy }, head, list, empty, add),
    value() {
      sent = filled();
      return sent.map((r) => ({ external_field: r.externalInput.value.trim(), contact_field: target(r) }));
    },
    check,
    showError(sub, message) {
      const m = /^\[(\d+)\](?:\.(\w+))?$/.exec(sub);
      const row = m && sent[Number(m[1])];
      if (!row) return false;
      const input = m[2] === 'contact_field' ? (row.contactSelect.value === CUSTOM ? row.customInput : row.contactSelect) : row.externalInput;
      setRowError(row.error, input, message);
      return true;
    },
    clearErrors() {
      for (const r of rows) setRowError(r.error, r.externalInput, null);
    },
    focus() {
      const bad = /** @type {HTMLElement | null} */ (list.querySelector('[aria-invalid="true"]'));
      (bad || /** @type {HTMLElement | null} */ (list.querySelector('input, select')) || add || list).focus();
    },
  };
}

/**
 * One number per record field (its length in characters). The API takes an object.
 * @param {Extract<Field, {kind: 'record_field_sizes'}>} field
 * @param {unknown} initial
 * @param {EditorOptions} options
 * @returns {Editor}
 */
export function recordSizesEditor(field, initial, { readOnly, labelledBy }) {
  const sizes = /** @type {Record<string, unknown> | null | undefined} */ (initial);
  const inputs = field.fields.map((rf) => {
    const id = uid(`size-${rf.key}`);
    const input = h('input', {
      type: 'number', id, class: 'input size-input', min: rf.min, max: rf.max, step: 1, inputmode: 'numeric',
      value: String((sizes && sizes[rf.key] !== undefined) ? sizes[rf.key] : rf.default), disabled: readOnly,
      dataset: { record: rf.key },
    });
    const error = rowError();
    error.id = uid('row-error');
    /** Shows whether the size is in range; true when it is (or empty: the default applies). */
    const recheck = () => {
      const text = input.value.trim();
      const message = text === '' ? null : integerText(text, rf.min, rf.max);
      setRowError(error, input, message ? `${rf.label} ${message}.` : null);
      return !message;
    };
    input.addEventListener('change', recheck);
    input.addEventListener('input', () => {
      if (!error.hidden) recheck();
    });
    const el = h('div', { class: 'size-item' },
      h('label', { for: id, class: 'size-label' }, rf.label),
      h('div', { class: 'with-unit' }, input, h('span', { class: 'unit' }, 'chars')),
      error);
    return { rf, input, error, el, recheck };
  });
  return {
    el: h('div', { class: 'sizes', role: 'group', 'aria-labelledby': labelledBy }, inputs.map((i) => i.el)),
    value() {
      /** @type {Record<string, unknown>} */
      const out = {};
      for (const { rf, input } of inputs) {
        const text = input.value.trim();
        if (text !== '') out[rf.key] = /^-?\d+$/.test(text) ? Number(text) : text;
      }
      return out;
    },
    check() {
      return inputs.map((i) => i.recheck()).every(Boolean);
    },
    showError(sub, message) {
      const item = inputs.find((i) => i.rf.key === sub);
      if (!item) return false;
      setRowError(item.error, item.input, message);
      return true;
    },
    clearErrors() {
      for (const { input, error } of inputs) setRowError(error, input, null);
    },
    focus() {
      const bad = inputs.find((i) => i.input.getAttribute('aria-invalid') === 'true');
      (bad || inputs[0]).input.focus();
    },
  };
}
