// @ts-check
// The account form, generated from the catalog: one control per field of the provider,
// whatever the type. Labels, help texts, defaults, fixed values, required rules, URL
// schemes and number ranges all come from `GET /api/v1/integration-types`; nothing here
// knows a particular integration type.

import { call, paths } from './api.js';
import { confirmDialog, modal } from './dialogs.js';
import { contactMappingEditor, mappingEditor, recordSizesEditor } from './editors.js';
import { formatTime, h, icon, problemBanner, replace, toast, uid } from './dom.js';
import { actionResultView, reportView } from './report.js';

/**
 * @typedef {import('./api.js').Field} Field
 * @typedef {import('./api.js').Account} Account
 * @typedef {import('./api.js').FieldError} FieldError
 * @typedef {import('./dom.js').Child} Child
 *
 * @typedef {object} ShellField What `fieldShell` shows of a field.
 * @property {string} key
 * @property {string} label
 * @property {Child} [help]
 * @property {boolean} [fixed]
 *
 * @typedef {ReturnType<typeof fieldShell>} Shell
 *
 * @typedef {object} Control One field's control in a form.
 * @property {Field} field
 * @property {HTMLElement} el
 * @property {() => unknown} value The value for the API; undefined leaves it out.
 * @property {() => boolean} check Checks what the browser can; false (and marked) when wrong.
 * @property {(sub: string, message: string) => void} showError `sub` is the path under the field.
 * @property {() => void} clearErrors
 * @property {() => void} focus
 * @property {(required: boolean, note?: string | null) => void} setRequired
 * @property {(choices: {name: string, label?: string}[]) => void} [setChoices] Text fields.
 * @property {(value: string) => void} [fillGenerated] Secrets.
 *
 * @typedef {object} ControlContext
 * @property {boolean} readOnly
 * @property {string} [idPrefix]
 * @property {import('./api.js').ContactFields} [contactFields]
 * @property {Record<string, boolean>} [secrets]
 * @property {boolean} [isNew]
 */

/**
 * The property an action fills in: a per-action convention, not a per-type one.
 * @type {Record<string, string>}
 */
const ACTION_TARGET = { generate_token: 'webhook_verify_token', load_voices: 'voice' };

/**
 * Choices an action loaded for a field of an account (`<account id>/<field key>`), kept for
 * the page's life so the field stays a choice after the form is rebuilt.
 * @type {Map<string, {name: string, label?: string}[]>}
 */
const loadedChoices = new Map();

/** 32 random bytes from the browser's CSPRNG, base64url: a token for a form not saved yet. */
function randomToken() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {unknown} v */
function showValue(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  return String(v);
}

/**
 * Field-level chrome: label, required marker, help, error line, around the given input.
 * @param {ShellField} field
 * @param {string} id The input's id.
 * @param {HTMLElement} input
 * @param {{inline?: boolean}} [options] A check box before its label.
 */
export function fieldShell(field, id, input, { inline } = {}) {
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
  const helpEl = field.help ? h('p', { class: 'field-help', id: `${id}-help` }, field.help) : null;
  const req = h('span', { class: 'req', hidden: true }, h('span', { 'aria-hidden': 'true' }, '*'), h('span', { class: 'sr-only' }, ' (required)'));
  const reqNote = h('span', { class: 'req-note', hidden: true });
  const label = h('label', { for: id, class: 'field-label', id: `${id}-label` }, field.label, req);
  const tags = h('span', { class: 'field-tags' },
    field.fixed ? h('span', { class: 'badge badge-neutral', title: 'Set by the integration; cannot be changed' }, icon('lock'), 'Fixed') : null,
    reqNote);
  const el = inline
    ? h('div', { class: 'field field-inline', dataset: { field: field.key } }, h('div', { class: 'check-row' }, input, label, tags), helpEl, errorEl)
    : h('div', { class: 'field', dataset: { field: field.key } }, h('div', { class: 'field-label-row' }, label, tags), input, helpEl, errorEl);
  /** @type {HTMLElement | null} */
  let bound = null;
  /**
   * Points the input's aria-describedby at the help and error texts.
   * @param {HTMLElement} target
   */
  const describe = (target) => {
    bound = target;
    const ids = [helpEl && helpEl.id, !errorEl.hidden && errorEl.id].filter(Boolean).join(' ');
    if (target && target.setAttribute) {
      if (ids) target.setAttribute('aria-describedby', ids);
      else target.removeAttribute('aria-describedby');
    }
  };
  return {
    el,
    label,
    /**
     * @param {string | null} message
     * @param {HTMLElement} [target]
     */
    setError(message, target) {
      errorEl.textContent = message || '';
      errorEl.hidden = !message;
      el.classList.toggle('has-error', Boolean(message));
      if (target) {
        if (message) target.setAttribute('aria-invalid', 'true');
        else target.removeAttribute('aria-invalid');
        describe(target);
      }
    },
    /**
     * @param {boolean} required
     * @param {string | null} [note] Why it is not required (yet).
     */
    setRequired(required, note) {
      req.hidden = !required;
      reqNote.hidden = !note;
      reqNote.textContent = note || '';
      if (bound) bound.toggleAttribute('aria-required', required);
    },
    describe,
  };
}

/**
 * A control for one catalog field.
 * @param {Field} field
 * @param {unknown} value
 * @param {ControlContext} ctx
 * @returns {Control}
 */
function fieldControl(field, value, ctx) {
  const id = `${ctx.idPrefix || 'prop-'}${field.key}`;
  const disabled = ctx.readOnly;
  const kind = field.kind;
  const start = value === undefined ? field.default : value;

  if (kind === 'secret') return secretControl(field, id, ctx);

  if (kind === 'mapping' || kind === 'contact_field_mapping' || kind === 'record_field_sizes') {
    const labelId = `${id}-label`;
    const opts = { readOnly: disabled, labelledBy: labelId, contactFields: /** @type {import('./api.js').ContactFields} */ (ctx.contactFields) };
    const editor = field.kind === 'mapping' ? mappingEditor(field, start, opts)
      : field.kind === 'record_field_sizes' ? recordSizesEditor(field, start, opts)
        : contactMappingEditor(field, start, opts);
    const errorEl = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
    const heading = h('span', { class: 'field-label', id: labelId }, field.label);
    const el = h('div', { class: 'field field-table', dataset: { field: field.key } },
      h('div', { class: 'field-label-row' }, heading), field.help ? h('p', { class: 'field-help' }, field.help) : null, editor.el, errorEl);
    return {
      field, el,
      value: () => editor.value(),
      check: () => editor.check(),
      showError(sub, message) {
        if (sub && editor.showError(sub, message)) return;
        errorEl.textContent = message;
        errorEl.hidden = false;
      },
      clearErrors() {
        editor.clearErrors();
        errorEl.hidden = true;
      },
      focus: () => editor.focus(),
      setRequired() {},
    };
  }

  // An example is offered as one ("e.g. …", muted), never where a viewer would read it as a value.
  const placeholder = !disabled && field.example ? `e.g. ${field.example}` : '';
  // A viewer's text boxes are read-only rather than disabled, so values can be selected and copied.
  const readOnlyText = disabled;
  let input;
  if (field.fixed && kind === 'bool') {
    // Fixed by the integration: shown as the control the spec describes, disabled, out of the tab order.
    input = h('input', { type: 'checkbox', id, class: 'checkbox', checked: field.default === true || field.default === 1, disabled: true });
  } else if (field.fixed && kind === 'enum') {
    input = h('select', { id, class: 'input input-fixed', disabled: true }, field.choices.map((c) => h('option', { value: c.value }, c.label)));
    input.value = String(field.default);
  } else if (field.fixed) {
    input = h('input', { type: kind === 'integer' ? 'number' : 'text', id, class: ['input', 'input-fixed', kind === 'integer' && 'input-number'], disabled: true, value: showValue(field.default) });
  } else if (kind === 'bool') {
    input = h('input', { type: 'checkbox', id, class: 'checkbox', checked: start === true, disabled });
  } else if (kind === 'enum') {
    input = h('select', { id, class: 'input', disabled }, field.choices.map((c) => h('option', { value: c.value }, c.label)));
    input.value = start === undefined || start === null ? field.choices[0].value : String(start);
  } else if (kind === 'integer') {
    input = h('input', {
      type: 'number', id, class: 'input input-number', min: field.min, max: field.max, step: 1, inputmode: 'numeric',
      value: start === undefined || start === null ? '' : String(start), readOnly: readOnlyText, placeholder,
    });
  } else if (kind === 'url') {
    input = h('input', {
      type: 'url', id, class: 'input', value: start || '', readOnly: readOnlyText, spellcheck: 'false', autocomplete: 'off', placeholder,
    });
  } else if (field.rule === 'pem_certificate') {
    input = h('textarea', {
      id, class: 'input mono', rows: 5, value: start || '', readOnly: readOnlyText, spellcheck: 'false',
      placeholder: disabled ? '' : 'e.g. -----BEGIN CERTIFICATE----- …',
    });
  } else {
    input = h('input', {
      type: field.rule === 'email' ? 'email' : 'text', id, class: 'input', value: start === undefined || start === null ? '' : String(start),
      maxlength: field.max_len, readOnly: readOnlyText, spellcheck: 'false', autocomplete: 'off', placeholder,
    });
  }
  const wrapped = kind === 'integer' && field.unit ? h('div', { class: 'with-unit' }, input, h('span', { class: 'unit' }, field.unit === 's' ? 'seconds' : field.unit)) : input;
  const shell = fieldShell(field, id, wrapped, { inline: kind === 'bool' });
  shell.describe(input);
  /** @type {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} */
  let current = input;
  const hints = [];
  if (kind === 'url' && !field.fixed) hints.push(`Starts with ${field.schemes.map((s) => `${s}://`).join(' or ')}`);
  if (kind === 'integer' && !field.fixed && field.min !== field.max) hints.push(`${field.min} to ${field.max}`);
  if (hints.length) /** @type {HTMLElement} */ (shell.el.querySelector('.field-label-row, .check-row')).append(h('span', { class: 'field-hint' }, hints.join(' · ')));

  return {
    field,
    el: shell.el,
    value() {
      if (field.fixed) return undefined;
      if (kind === 'bool') return /** @type {HTMLInputElement} */ (current).checked;
      const text = current.value.trim();
      if (text === '') return undefined;
      if (kind === 'integer') return /^-?\d+$/.test(text) ? Number(text) : text;
      return text;
    },
    check: () => true,
    showError(_sub, message) {
      shell.setError(message, current);
    },
    clearErrors() {
      shell.setError(null, current);
    },
    focus: () => current.focus(),
    setRequired: (required, note) => shell.setRequired(required, note),
    /** Turns the text input into a choice among loaded options (Load Voices). */
    setChoices(choices) {
      const selected = current.value;
      const select = h('select', { id, class: 'input', disabled },
        h('option', { value: '' }, '— none —'),
        choices.map((c) => h('option', { value: c.name }, c.label && c.label !== c.name ? `${c.label} (${c.name})` : c.name)));
      if (selected && !choices.some((c) => c.name === selected)) select.append(h('option', { value: selected }, `${selected} (current)`));
      select.value = selected;
      current.replaceWith(select);
      current = select;
      shell.describe(select);
    },
  };
}

/**
 * A write-only secret: the form only ever knows whether it is set. Set secrets offer
 * Replace or Clear; the value typed lives only in the password box's `value` property.
 * @param {Field} field
 * @param {string} id
 * @param {ControlContext} ctx
 * @returns {Control}
 */
function secretControl(field, id, ctx) {
  let isSet = Boolean(ctx.secrets && ctx.secrets[field.key]);
  let mode = isSet ? 'keep' : 'new';
  const input = h('input', {
    type: 'password', id, class: 'input', autocomplete: 'new-password', spellcheck: 'false', disabled: ctx.readOnly,
    placeholder: isSet ? 'New value' : '',
  });
  const state = h('span', { class: 'secret-state' });
  const replaceBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small secret-replace' }, 'Replace');
  const clearBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small secret-clear' }, 'Clear');
  const undoBtn = h('button', { type: 'button', class: 'btn btn-link btn-small secret-undo' }, 'Keep current value');
  // Shows what the user is typing (or what was generated), never what is stored.
  const revealBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small secret-reveal', 'aria-pressed': 'false', 'aria-controls': id }, 'Show');
  const clearNote = h('span', { class: 'secret-note' }, 'Will be cleared when you save.');
  /** Where a value generated in the browser is shown once, with a copy button. */
  const generated = h('div', { class: 'secret-generated' });
  // A new account has nothing stored yet: the state badge only makes sense once saved.
  const box = h('div', { class: 'secret' }, ctx.isNew ? null : state, input, ctx.readOnly ? null : revealBtn, clearNote, ctx.readOnly ? null : [replaceBtn, clearBtn, undoBtn]);
  const shell = fieldShell(field, id, h('div', { class: 'secret-field' }, box, generated));
  shell.describe(input);
  /** Whether the field must have a value now (a required secret offers no Clear). */
  let required = false;

  /** @param {boolean} on */
  const reveal = (on) => {
    input.type = on ? 'text' : 'password';
    revealBtn.setAttribute('aria-pressed', String(on));
    revealBtn.textContent = on ? 'Hide' : 'Show';
  };
  const render = () => {
    replace(state, isSet ? h('span', { class: 'badge badge-ok' }, icon('lock'), 'Set') : h('span', { class: 'badge badge-neutral' }, 'Not set'));
    input.hidden = mode === 'keep' || mode === 'clear';
    revealBtn.hidden = input.hidden;
    if (input.hidden) reveal(false);
    clearNote.hidden = mode !== 'clear';
    replaceBtn.hidden = !(isSet && mode === 'keep');
    clearBtn.hidden = !(isSet && mode === 'keep') || required;
    undoBtn.hidden = !(isSet && (mode === 'replace' || mode === 'clear'));
    if (mode !== 'new' && mode !== 'replace') replace(generated);
    box.dataset.mode = mode;
  };
  revealBtn.addEventListener('click', () => reveal(input.type === 'password'));
  input.addEventListener('input', () => replace(generated));
  replaceBtn.addEventListener('click', () => {
    mode = 'replace';
    render();
    input.focus();
    box.dispatchEvent(new Event('change', { bubbles: true }));
  });
  clearBtn.addEventListener('click', () => {
    mode = 'clear';
    input.value = '';
    render();
    undoBtn.focus();
    box.dispatchEvent(new Event('change', { bubbles: true }));
  });
  undoBtn.addEventListener('click', () => {
    mode = 'keep';
    input.value = '';
    render();
    replaceBtn.focus();
    box.dispatchEvent(new Event('change', { bubbles: true }));
  });
  render();

  return {
    field,
    el: shell.el,
    /** A new value, null to clear, or undefined to keep what is stored. */
    value() {
      if (mode === 'clear') return null;
      if (mode === 'keep') return undefined;
      return input.value === '' ? undefined : input.value;
    },
    check: () => true,
    showError(_sub, message) {
      shell.setError(message, input);
    },
    clearErrors() {
      shell.setError(null, input);
    },
    focus: () => (input.hidden ? (replaceBtn.hidden ? undoBtn : replaceBtn) : input).focus(),
    setRequired(now, note) {
      required = now;
      shell.setRequired(now, note);
      if (required && mode === 'clear') mode = 'keep';
      render();
    },
    /**
     * A value generated in the browser, to be saved with the form: shown in the field,
     * with a copy button, until the user types over it or keeps the stored value.
     */
    fillGenerated(value) {
      mode = isSet ? 'replace' : 'new';
      input.value = value;
      render();
      reveal(true);
      replace(generated, showOnce(`Generated ${field.label}: copy it now. It is stored when you save; until then the ${isSet ? 'current value stays in use' : 'account has none'}.`, value));
    },
  };
}

/**
 * A refused dialog form's errors: each next to its field (a hidden field's counts as one
 * of no field), the focus on the first field marked; the rest, or the reply's message when
 * no field was marked, in the banner under `title`, focused when no field was.
 * @param {Record<string, {shell: Shell, input: HTMLElement}>} fields
 * @param {import('./api.js').Reply} reply
 * @param {HTMLElement} banner
 * @param {string} title
 */
export function showReplyErrors(fields, reply, banner, title) {
  /** @type {string[]} */
  const loose = [];
  /** @type {HTMLElement | null} */
  let first = null;
  for (const e of reply.errors) {
    const target = fields[e.field];
    if (target && !target.shell.el.hidden) {
      target.shell.setError(e.message, target.input);
      first = first || target.input;
    } else {
      loose.push(e.message);
    }
  }
  if (loose.length || !first) replace(banner, problemBanner(title, loose.length ? loose : [reply.message]));
  (first || banner).focus();
}

/**
 * A button that copies a read-only input's value (`what` names it when the browser refuses).
 * @param {HTMLInputElement} input
 * @param {string} what
 */
export function copyButton(input, what) {
  return h('button', {
    type: 'button', class: 'btn btn-secondary btn-small copy',
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        toast('Copied to the clipboard.');
      } catch {
        toast(`Select the ${what} and copy it with Ctrl+C.`, 'error');
      }
    },
  }, icon('copy'), 'Copy');
}

/**
 * A box that shows a freshly generated token once, for copying.
 * @param {string} label
 * @param {string} token
 */
function showOnce(label, token) {
  const id = uid('once');
  const input = h('input', { id, class: 'input mono once-value', readOnly: true, spellcheck: 'false' });
  input.value = token;
  const copy = copyButton(input, 'token');
  return h('div', { class: 'once-box' }, h('label', { for: id }, label), h('div', { class: 'once-row' }, input, copy),
    h('p', { class: 'muted small' }, 'Shown once: it is stored sealed and cannot be displayed again.'));
}

/**
 * The form for a new account (`account` null) or an existing one.
 * @param {object} ctx
 * @param {import('./api.js').Tenant} ctx.tenant
 * @param {import('./api.js').IntegrationType} ctx.type
 * @param {import('./api.js').Provider} ctx.provider
 * @param {Account | null} ctx.account
 * @param {boolean} ctx.readOnly
 * @param {import('./api.js').ContactFields} ctx.contactFields
 * @param {(saved: Account) => void} ctx.onSaved
 * @param {() => void} ctx.onDeleted
 * @param {() => void} ctx.onReload
 * @param {(report: import('./api.js').TestReport) => void} [ctx.onTested]
 * @param {(what: () => string | null) => void} [ctx.guardLeaving] Told what unsaved edits leaving would lose.
 * @param {{name: string, enabled: boolean, properties: Record<string, unknown>} | null} [ctx.prefill] A new
 *   account's starting values (a copy of another account: its secrets are never among them).
 */
export function accountForm(ctx) {
  const { tenant, type, provider } = ctx;
  let account = ctx.account;
  const readOnly = ctx.readOnly;
  const formId = uid('form');

  // General fields.
  const prefill = account ? null : ctx.prefill || null;
  const nameInput = h('input', { type: 'text', id: 'f-name', class: 'input', maxlength: 100, value: account ? account.name : prefill ? prefill.name : '', disabled: readOnly, autocomplete: 'off', spellcheck: 'false' });
  const nameShell = fieldShell({ key: 'name', label: 'Name', help: 'A unique name for this integration account; a descriptive one helps when the tenant has several accounts of the same type.' }, 'f-name', nameInput);
  nameShell.setRequired(true);
  nameShell.describe(nameInput);
  const enabledInput = h('input', { type: 'checkbox', id: 'f-enabled', class: 'checkbox', checked: account ? account.enabled : prefill ? prefill.enabled : true, disabled: readOnly });
  const enabledShell = fieldShell({ key: 'enabled', label: 'Enabled', help: 'A disabled account keeps its settings but is not used.' }, 'f-enabled', enabledInput, { inline: true });
  /** @type {Record<string, {showError: (sub: string, message: string) => void, clearErrors: () => void, focus: () => void}>} */
  const general = {
    name: { showError: (_s, m) => nameShell.setError(m, nameInput), clearErrors: () => nameShell.setError(null, nameInput), focus: () => nameInput.focus() },
    enabled: { showError: (_s, m) => enabledShell.setError(m, enabledInput), clearErrors: () => enabledShell.setError(null, enabledInput), focus: () => enabledInput.focus() },
  };

  const start = account ? account.properties : prefill ? prefill.properties : {};
  const controls = provider.fields.map((field) => fieldControl(field, field.kind === 'secret' ? undefined : start[field.key], {
    readOnly, contactFields: ctx.contactFields, secrets: account ? account.secrets : {}, isNew: !account,
  }));
  const byKey = Object.fromEntries(controls.map((c) => [c.field.key, c]));
  // Choices loaded earlier (Load Voices) stay a choice when the form is shown again after saving.
  for (const c of controls) {
    const choices = account && loadedChoices.get(`${account.id}/${c.field.key}`);
    if (choices && c.setChoices) c.setChoices(choices);
  }

  /** The body for POST or PUT (and, with `id`, for testing unsaved values). */
  const collect = () => {
    /** @type {Record<string, unknown>} */
    const properties = {};
    for (const c of controls) {
      const v = c.value();
      if (v !== undefined) properties[c.field.key] = v;
    }
    /** @type {{type: string, provider: string, name?: string, enabled: boolean, properties: Record<string, unknown>, id?: string}} */
    const body = { type: type.key, provider: provider.key, name: nameInput.value.trim(), enabled: enabledInput.checked, properties };
    return body;
  };

  // Required markers, including "required when another field has a value".
  const refreshRequired = () => {
    const now = collect().properties;
    for (const c of controls) {
      const r = c.field.required;
      if (r.when === 'always') c.setRequired(true);
      else if (r.when === 'if') {
        const other = byKey[r.field];
        const label = other ? other.field.label : r.field;
        const on = JSON.stringify(now[r.field] === undefined ? (other && other.field.default) : now[r.field]) === JSON.stringify(r.equals);
        const choice = other && other.field.kind === 'enum' ? other.field.choices.find((x) => x.value === r.equals) : undefined;
        const shown = typeof r.equals === 'boolean' ? (r.equals ? 'is checked' : 'is not checked') : `is ${choice ? choice.label : r.equals}`;
        c.setRequired(on, on ? null : `Required when ${label} ${shown}`);
      } else c.setRequired(false);
    }
  };

  // Banners above the form: problems that belong to no field, and the stale-version notice.
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  /** @param {Child} node */
  const setBanner = (node) => replace(banner, node);

  const clearErrors = () => {
    setBanner(null);
    general.name.clearErrors();
    general.enabled.clearErrors();
    for (const c of controls) c.clearErrors();
  };

  /**
   * Puts each API error next to its field; returns those that belong to no field.
   * @param {FieldError[]} errors
   */
  const showErrors = (errors) => {
    const loose = [];
    let first = null;
    for (const e of errors) {
      const m = /^properties\.([a-z0-9_]+)(.*)$/.exec(e.field || '');
      let target = null;
      if (m && byKey[m[1]]) {
        target = byKey[m[1]];
        target.showError(m[2].replace(/^\./, ''), e.message);
      } else if (general[e.field]) {
        target = general[e.field];
        target.showError('', e.message);
      } else {
        loose.push(e);
      }
      if (target && !first) first = target;
    }
    return { loose, first };
  };

  /**
   * @param {string} title
   * @param {{message: string}[]} errors
   * @param {string | null} [lead]
   */
  const problemBanner = (title, errors, lead) => h('div', { class: 'banner banner-error', role: 'alert' },
    icon('alert'),
    h('div', {}, h('strong', {}, title), lead ? h('p', {}, lead) : null,
      errors.length ? h('ul', { class: 'banner-list' }, errors.map((e) => h('li', {}, e.message))) : null));

  /**
   * @param {number} currentVersion
   * @param {number} openedVersion
   * @param {string} [attempt] What did not happen.
   */
  const staleBanner = (currentVersion, openedVersion, attempt = 'Your changes were not saved') => h('div', { class: 'banner banner-stale', role: 'alert' },
    icon('alert'),
    h('div', {},
      h('strong', {}, 'Someone else changed this account after you opened it.'),
      h('p', {}, `${attempt} and nothing was overwritten. The account is now at version ${currentVersion}; you opened version ${openedVersion}. `
        + 'Reload to see the current settings, then apply your change again.'),
      h('div', { class: 'banner-actions' },
        h('button', { type: 'button', class: 'btn btn-primary btn-small reload', onclick: () => ctx.onReload() }, icon('refresh'), 'Reload the account'),
        h('span', { class: 'muted small' }, 'Reloading discards the changes in this form.'))));

  // Save.
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary save' }, account ? 'Save changes' : 'Create account');
  const deleteBtn = account ? h('button', { type: 'button', class: 'btn btn-danger-outline delete' }, icon('trash'), 'Delete') : null;
  /**
   * @param {HTMLButtonElement} button
   * @param {boolean} on
   * @param {string} [text] Replaces the button's last text.
   */
  const busy = (button, on, text) => {
    button.disabled = on;
    button.classList.toggle('is-busy', on);
    if (text && button.lastChild) button.lastChild.textContent = text;
  };

  /** @param {Event} event */
  const save = async (event) => {
    event.preventDefault();
    if (readOnly) return;
    clearErrors();
    let rowsOk = true;
    for (const c of controls) rowsOk = c.check() && rowsOk;
    if (!rowsOk) {
      setBanner(problemBanner('Some rows need attention.', [], 'Fix the rows marked below, then save again.'));
      const bad = controls.find((c) => c.el.querySelector('[aria-invalid="true"]'));
      if (bad) bad.focus();
      return;
    }
    const body = collect();
    const opened = account;
    if (opened && !dirty()) {
      toast('Nothing to save: no value was changed.');
      return;
    }
    // A test of exactly these values, run on the form just before, becomes the account's last test.
    const tested = formTest && formTest.values === JSON.stringify(body) ? formTest.token : null;
    busy(saveBtn, true, 'Saving…');
    const reply = opened
      ? await call('PUT', paths.account(tenant.id, opened.id), { body, ifMatch: opened.version, tested })
      : await call('POST', paths.accounts(tenant.id), { body, tested });
    busy(saveBtn, false, opened ? 'Save changes' : 'Create account');
    if (reply.ok) {
      settled = true;
      toast(opened ? 'Changes saved.' : 'Integration account created.');
      ctx.onSaved(reply.body);
      return;
    }
    if (reply.status === 412 && opened) {
      setBanner(staleBanner(reply.body && reply.body.current_version, opened.version));
      banner.focus();
      return;
    }
    const { loose, first } = showErrors(reply.errors);
    const count = reply.errors.length;
    const title = reply.status === 403 ? 'You may not change this account.'
      : count ? `The account was not saved: ${count === 1 ? '1 problem' : `${count} problems`}.` : 'The account was not saved.';
    const listed = loose.length ? loose : count ? [] : [{ message: reply.message }];
    setBanner(problemBanner(title, listed, count && !loose.length ? 'Each problem is shown next to its field.' : null));
    if (first) first.focus();
    else banner.focus();
  };

  // Delete.
  if (deleteBtn) {
    deleteBtn.addEventListener('click', async () => {
      const opened = account;
      if (!opened) return;
      const yes = await confirmDialog({
        title: 'Delete integration account',
        message: `Delete “${opened.name}”?`,
        detail: 'Its settings and secrets are removed; the history stays in the audit trail. This cannot be undone.',
        confirmLabel: 'Delete account',
        danger: true,
      });
      if (!yes) return;
      busy(deleteBtn, true);
      const reply = await call('DELETE', paths.account(tenant.id, opened.id), { ifMatch: opened.version });
      busy(deleteBtn, false);
      if (reply.ok) {
        settled = true;
        toast(`“${opened.name}” was deleted.`);
        ctx.onDeleted();
      } else if (reply.status === 412) {
        setBanner(staleBanner(reply.body && reply.body.current_version, opened.version, 'The account was not deleted'));
        banner.focus();
      } else {
        setBanner(problemBanner('The account was not deleted.', [{ message: reply.message }]));
        banner.focus();
      }
    });
  }

  // Connection test and actions.
  const initial = JSON.stringify(collect());
  const dirty = () => JSON.stringify(collect()) !== initial;
  /**
   * The last test of unsaved values: the values (as collected) and the server's sealed
   * report, which a save of the same values sends back to keep it as the last test.
   * @type {{values: string, token: string} | null}
   */
  let formTest = null;
  /** Saved or deleted: nothing is left to lose by leaving. */
  let settled = false;
  if (!readOnly && ctx.guardLeaving) {
    ctx.guardLeaving(() => (!settled && dirty() ? (account ? `“${account.name}”` : `the new ${type.label} account`) : null));
  }
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const side = [];
  if (!readOnly && provider.test.kind === 'supported') {
    const testBtn = h('button', { type: 'button', class: 'btn btn-secondary test-connection' }, icon('plug'), 'Test connection');
    testBtn.addEventListener('click', async () => {
      clearErrors();
      busy(testBtn, true, 'Testing…');
      replace(results, h('p', { class: 'muted loading' }, 'Testing the connection…'));
      const saved = account && !dirty() ? account : null;
      let reply;
      formTest = null;
      if (saved) {
        reply = await call('POST', paths.testSaved(tenant.id, saved.id), { body: {} });
      } else {
        const values = collect();
        const body = { ...values };
        if (account) body.id = account.id;
        // Without a name the server tests under a placeholder one.
        if (!body.name) delete body.name;
        reply = await call('POST', paths.testUnsaved(tenant.id), { body });
        const token = reply.header('Patchbay-Tested');
        if (reply.ok && token) formTest = { values: JSON.stringify(values), token };
      }
      busy(testBtn, false, 'Test connection');
      if (reply.ok) {
        replace(results, reportView(reply.body));
        if (saved && ctx.onTested) ctx.onTested(reply.body);
        return;
      }
      const { loose } = showErrors(reply.errors);
      const count = reply.errors.length;
      const listed = loose.length ? loose : count ? [] : [{ message: reply.message }];
      replace(results, problemBanner('The test did not run.', listed, count && !loose.length ? 'Fix the fields marked in the form, then test again.' : null));
    });
    side.push(h('div', { class: 'side-action' }, testBtn,
      h('p', { class: 'muted small' }, account ? 'Tests the values in the form; secrets you leave alone come from the saved account.' : 'Tests the values in the form; nothing is saved.'),
      h('p', { class: 'probe small' }, provider.test.probe)));
  } else if (provider.test.kind !== 'supported') {
    side.push(h('p', { class: 'muted small' }, provider.test.reason));
  }

  /**
   * After an action that stores something (a generated token, a webhook), the account's
   * version moves on: take the account from the reply when it has one, else re-read it,
   * adopting it only when exactly this action changed it (so a concurrent edit by someone
   * else still surfaces as a conflict on save).
   */
  /**
   * @param {import('./api.js').Reply} reply
   * @param {Account} before The account the action ran on.
   */
  const adopt = async (reply, before) => {
    if (reply.body && reply.body.account) {
      account = reply.body.account;
    } else {
      const fresh = await call('GET', paths.account(tenant.id, before.id));
      if (fresh.ok && fresh.body.version === before.version + 1) account = fresh.body;
    }
    renderMeta();
    renderInbound();
  };

  /**
   * A failed action answers like a failed test (status, category, message, steps), or with a problem.
   * @param {string} label
   * @param {import('./api.js').Reply} reply
   * @param {Account} opened The account the action ran on.
   */
  const actionFailed = (label, reply, opened) => {
    if (reply.status === 412) {
      setBanner(staleBanner(reply.body && reply.body.current_version, opened.version));
      banner.focus();
      return h('p', { class: 'error-text' }, `${label} did not run: the account changed since you opened it.`);
    }
    if (reply.body && reply.body.status === 'failed') return reportView(reply.body, label);
    return problemBanner(`${label} failed.`, reply.errors.length ? reply.errors : [{ message: reply.message }]);
  };

  for (const action of readOnly ? [] : provider.actions) {
    const target = byKey[ACTION_TARGET[action.key]];
    const button = h('button', { type: 'button', class: `btn btn-secondary action action-${action.key}`, dataset: { action: action.key } }, action.label);
    const needsSaved = !account && action.key !== 'generate_token';
    button.disabled = needsSaved;
    /**
     * Runs the action on the saved account (the button is disabled until there is one).
     * @param {Record<string, unknown>} params
     * @param {Account} before
     */
    const run = async (params, before) => {
      busy(button, true);
      const reply = await call('POST', paths.action(tenant.id, before.id, action.key), { body: { params }, ifMatch: before.version });
      busy(button, false);
      if (reply.ok) await adopt(reply, before);
      return reply;
    };
    button.addEventListener('click', async () => {
      if (action.key === 'generate_token' && target && target.fillGenerated) {
        // Generated into the form and stored only on Save, so a live webhook keeps its
        // token until the user decides; replacing a stored one is confirmed first.
        const stored = Boolean(account && account.secrets[target.field.key]);
        if (stored) {
          const yes = await confirmDialog({
            title: `Replace the ${target.field.label}?`,
            message: `A new ${target.field.label} goes into the form; the stored one stays in use until you save.`,
            detail: 'After saving, give the new value to the vendor (for Facebook: the webhook’s Verify Token), or deliveries that use the old one are refused.',
            confirmLabel: 'Generate a new one',
          });
          if (!yes) return;
        }
        target.fillGenerated(randomToken());
        target.focus();
        return;
      }
      if (!account) return;
      const opened = account;
      if (action.params.length) {
        const done = await paramsDialog(action, (params) => run(params, opened), byKey);
        if (done !== null) replace(results, actionResultView(action.label, done.body));
        return;
      }
      const reply = await run({}, opened);
      if (!reply.ok) {
        replace(results, actionFailed(action.label, reply, opened));
      } else if (Array.isArray(reply.body.voices)) {
        if (target && target.setChoices) {
          loadedChoices.set(`${opened.id}/${target.field.key}`, reply.body.voices);
          target.setChoices(reply.body.voices);
        }
        const found = reply.body.message || `${reply.body.voices.length} voices are offered to this account.`;
        replace(results, actionResultView(action.label, {
          message: `${found} Choose one under ${target ? target.field.label : 'Voice'}, then save.`,
          steps: reply.body.steps,
        }));
      } else {
        replace(results, actionResultView(action.label, reply.body));
      }
    });
    side.push(h('div', { class: 'side-action' }, button,
      h('p', { class: 'muted small' }, needsSaved ? `${action.help} Save the account first.` : action.help)));
  }

  // The inbound webhook of a messenger account: the URL to give the vendor (with a copy
  // button), what it saw, and a new URL on demand.
  const inbound = h('div', { class: 'inbound-host' });
  const renderInbound = () => {
    const url = account && account.inbound_webhook_url;
    if (!account || !url) {
      replace(inbound);
      return;
    }
    const full = url.startsWith('/') ? `${location.origin}${url}` : url;
    const health = account.inbound;
    const urlId = uid('hook');
    const field = h('input', { id: urlId, class: 'input mono inbound-url', readOnly: true, spellcheck: 'false' });
    field.value = full;
    const copy = copyButton(field, 'URL');
    const seen = health
      ? h('dl', { class: 'meta inbound-health' },
        h('dt', {}, 'Deliveries'), h('dd', { class: 'inbound-counts' }, `${health.accepted} accepted, ${health.rejected} refused`),
        h('dt', {}, 'Last delivery'), h('dd', {}, health.last_delivery_at ? formatTime(health.last_delivery_at) : 'none yet'),
        health.last_rejected ? h('dt', {}, 'Last refused') : null,
        health.last_rejected
          ? h('dd', { class: 'inbound-refused' }, `${formatTime(health.last_rejected.at)}: ${health.last_rejected.reason}`)
          : null)
      : null;
    const rotate = readOnly ? null : h('button', {
      type: 'button', class: 'btn btn-secondary btn-small rotate-hook',
      onclick: async () => {
        const yes = await confirmDialog({
          title: 'New webhook URL',
          message: 'The current URL stops working at once.',
          detail: 'Set the new URL at the vendor right after (Set Webhook does it for Telegram and Viber).',
          confirmLabel: 'Make a new URL',
        });
        if (!yes || !account) return;
        const reply = await call('POST', paths.rotateHook(tenant.id, account.id));
        if (reply.ok) {
          account = reply.body;
          renderInbound();
          toast('A new webhook URL is ready; give it to the vendor.');
        } else {
          toast('The URL could not be changed; try again.', 'error');
        }
      },
    }, 'New URL');
    replace(inbound, h('section', { class: 'card inbound-card', 'aria-labelledby': `${formId}-inbound` },
      h('h2', { class: 'card-title', id: `${formId}-inbound` }, 'Inbound webhook'),
      h('label', { for: urlId, class: 'muted small' }, 'Give this URL to the vendor: customers\' messages arrive here.'),
      h('div', { class: 'once-row' }, field, copy),
      seen,
      rotate));
  };
  renderInbound();

  const meta = h('div', { class: 'meta-host' });
  const renderMeta = () => replace(meta, account
    ? h('dl', { class: 'meta' },
      h('dt', {}, 'Created'), h('dd', {}, formatTime(account.created_at)),
      h('dt', {}, 'Last changed'), h('dd', {}, formatTime(account.updated_at)),
      h('dt', {}, 'Version'), h('dd', { class: 'version' }, String(account.version)))
    : h('p', { class: 'muted small' }, 'Not saved yet.'));
  renderMeta();

  const generalCard = h('section', { class: 'card', 'aria-labelledby': `${formId}-general` },
    h('h2', { class: 'card-title', id: `${formId}-general` }, 'General'),
    h('div', { class: 'type-line' },
      h('div', {}, h('span', { class: 'kv-label' }, 'Type'), h('span', { class: 'kv-value' }, type.label)),
      h('div', {}, h('span', { class: 'kv-label' }, 'Provider'), h('span', { class: 'kv-value' }, provider.label))),
    h('p', { class: 'type-description' }, type.description),
    nameShell.el, enabledShell.el);
  const propsCard = h('section', { class: 'card', 'aria-labelledby': `${formId}-props` },
    h('h2', { class: 'card-title', id: `${formId}-props` }, 'Properties'),
    controls.length ? controls.map((c) => c.el) : h('p', { class: 'muted' }, 'This provider has no properties.'));
  const sideCard = h('aside', { class: 'form-side' },
    h('section', { class: 'card', 'aria-labelledby': `${formId}-conn` },
      h('h2', { class: 'card-title', id: `${formId}-conn` }, 'Connection'),
      readOnly ? h('p', { class: 'muted small' }, 'Read-only access: tests and actions need an administrator.') : side,
      results),
    inbound,
    h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Details'), meta));

  const footer = readOnly
    ? h('div', { class: 'form-footer' }, h('a', { class: 'btn btn-secondary', href: `#/t/${encodeURIComponent(tenant.id)}` }, 'Back to the list'))
    : h('div', { class: 'form-footer' },
      saveBtn,
      h('a', { class: 'btn btn-secondary cancel', href: `#/t/${encodeURIComponent(tenant.id)}` }, 'Cancel'),
      h('span', { class: 'spacer' }),
      deleteBtn);

  const form = h('form', { class: 'account-form', id: formId, novalidate: true, 'aria-label': account ? `Edit ${account.name}` : `New ${type.label} account` },
    banner,
    h('div', { class: 'form-layout' }, h('div', { class: 'form-main' }, generalCard, propsCard), sideCard),
    footer);
  form.addEventListener('submit', save);
  form.addEventListener('input', refreshRequired);
  form.addEventListener('change', refreshRequired);
  refreshRequired();
  return form;
}

/**
 * Asks for an action's parameters (e.g. Viber's webhook host and port), runs it, and shows
 * field errors in the dialog. Resolves with the successful reply, or null when cancelled.
 * @param {import('./api.js').Action} action
 * @param {(params: Record<string, unknown>) => Promise<import('./api.js').Reply>} run
 * @param {Record<string, Control>} formControls The form's controls, whose values fill in the parameters.
 * @returns {Promise<{body: any} | null>}
 */
function paramsDialog(action, run, formControls) {
  return modal({
    title: action.label,
    build: (close) => {
      const controls = action.params.map((p) => {
        const fromForm = formControls[p.key] ? formControls[p.key].value() : undefined;
        return fieldControl(p, fromForm, { readOnly: false, idPrefix: 'param-' });
      });
      const error = h('div', { class: 'banner-host' });
      const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, action.label);
      const form = h('form', { novalidate: true, class: 'params-form' },
        h('p', { class: 'muted' }, action.help), error, controls.map((c) => c.el),
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => close(null) }, 'Cancel'), submit));
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        for (const c of controls) c.clearErrors();
        replace(error);
        /** @type {Record<string, unknown>} */
        const params = {};
        for (const c of controls) {
          const v = c.value();
          if (v !== undefined) params[c.field.key] = v;
        }
        submit.disabled = true;
        const reply = await run(params);
        submit.disabled = false;
        if (reply.ok) {
          close({ body: reply.body });
          return;
        }
        const loose = [];
        for (const e of reply.errors) {
          const key = (e.field || '').replace(/^params\./, '');
          const c = controls.find((x) => x.field.key === key);
          if (c) c.showError('', e.message);
          else loose.push(e.message);
        }
        if (loose.length || !reply.errors.length) {
          replace(error, h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'), h('div', {}, (loose.length ? loose : [reply.message]).join(' '))));
        }
      });
      return form;
    },
  });
}
