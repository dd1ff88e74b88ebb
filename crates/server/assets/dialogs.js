// @ts-check
// Modal dialogs on the native <dialog> element: focus moves into the dialog, Escape
// closes it (the browser's own `cancel`), and focus returns to where it was.

import { h, icon, replace } from './dom.js';

/**
 * @typedef {import('./api.js').IntegrationType} IntegrationType
 * @typedef {import('./api.js').Provider} Provider
 * @typedef {import('./api.js').Account} Account
 */

/**
 * Opens a modal dialog. `build(close)` returns the dialog's content; `close(value)` ends it.
 * Resolves with the value given to `close`, or `null` when dismissed (Escape, Cancel).
 * @template T
 * @param {object} args
 * @param {string} args.title
 * @param {string} [args.className]
 * @param {(close: (value: T | null) => void) => import('./dom.js').Child} args.build
 * @returns {Promise<T | null>}
 */
export function modal({ title, className, build }) {
  return new Promise((resolve) => {
    const returnFocus = /** @type {HTMLElement | null} */ (document.activeElement);
    const heading = h('h2', { class: 'dialog-title', id: `dialog-title-${Date.now()}` }, title);
    const dialog = h('dialog', { class: ['dialog', className], 'aria-labelledby': heading.id });
    /** @type {T | null} */
    let result = null;
    /** @param {T | null} value */
    const close = (value) => {
      result = value === undefined ? null : value;
      dialog.close();
    };
    const closeButton = h('button', { type: 'button', class: 'icon-button dialog-close', 'aria-label': 'Close', onclick: () => close(null) }, icon('cross'));
    dialog.append(h('header', { class: 'dialog-header' }, heading, closeButton), h('div', { class: 'dialog-body' }, build(close)));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (returnFocus && typeof returnFocus.focus === 'function') returnFocus.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = /** @type {HTMLElement | null} */ (dialog.querySelector('[autofocus], .dialog-body input, .dialog-body select, .dialog-body button:not([disabled])'));
    if (first) first.focus();
  });
}

/**
 * Asks a yes/no question; resolves true only when the user confirms.
 * @param {{title: string, message: string, detail?: string, confirmLabel: string, danger?: boolean}} args
 */
export async function confirmDialog({ title, message, detail, confirmLabel, danger }) {
  const answer = await modal({
    title,
    className: 'dialog-confirm',
    build: (close) => [
      h('p', { class: 'dialog-message' }, message),
      detail ? h('p', { class: 'muted' }, detail) : null,
      h('div', { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'btn btn-secondary', autofocus: true, onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary', 'confirm'], onclick: () => close(true) }, confirmLabel)),
    ],
  });
  return answer === true;
}

/** @param {string} text */
function firstSentence(text) {
  const end = text.indexOf('. ');
  return end > 0 ? text.slice(0, end + 1) : text;
}

/**
 * Whether the tenant may add an account of `type` (and which providers): gated types not
 * enabled for the tenant are hidden; a type limited to one account per tenant (a group
 * such as WFM + Loxysoft WFM) or one per provider (SSO) is taken when that account exists.
 * @param {IntegrationType} type
 * @param {IntegrationType[]} catalog
 * @param {Account[]} accounts
 * @param {string[]} enabledTypes
 * @returns {Availability}
 */
function availability(type, catalog, accounts, enabledTypes) {
  if (type.gated && !enabledTypes.includes(type.key)) return { hidden: true };
  const rule = type.cardinality;
  if (rule.rule === 'one_per_tenant') {
    /** @param {string} key */
    const groupOf = (key) => {
      const t = catalog.find((c) => c.key === key);
      return t && t.cardinality.rule === 'one_per_tenant' ? t.cardinality.group : null;
    };
    const holder = accounts.find((a) => groupOf(a.type) === rule.group);
    if (holder) return { taken: true, why: `Only one per tenant; “${holder.name}” already holds it.`, providers: [] };
  }
  const providers = type.providers.map((p) => {
    const holder = rule.rule === 'one_per_provider' && accounts.find((a) => a.type === type.key && a.provider === p.key);
    return { provider: p, taken: Boolean(holder), why: holder ? `Already configured: “${holder.name}”` : null };
  });
  if (providers.every((p) => p.taken)) return { taken: true, why: 'Every provider of this type is already configured.', providers };
  return { taken: false, providers };
}

/**
 * @typedef {object} Availability
 * @property {boolean} [hidden]
 * @property {boolean} [taken]
 * @property {string} [why]
 * @property {{provider: Provider, taken: boolean, why: string | null}[]} [providers]
 */

/**
 * Moves focus among the enabled cards of a picker with the arrow keys (Home and End go to
 * the ends); ArrowUp from the first card goes back to `search` when there is one.
 * @param {HTMLElement} list
 * @param {HTMLInputElement | null} search
 */
function arrowKeys(list, search) {
  list.addEventListener('keydown', (event) => {
    const cards = /** @type {HTMLButtonElement[]} */ ([...list.querySelectorAll('.pick-card:not([disabled])')]);
    const at = cards.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (at < 0) return;
    /** @type {Record<string, number>} */
    const moves = { ArrowDown: at + 1, ArrowRight: at + 1, ArrowUp: at - 1, ArrowLeft: at - 1, Home: 0, End: cards.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const to = moves[event.key];
    if (to < 0 && search) search.focus();
    else cards[Math.max(0, Math.min(cards.length - 1, to))].focus();
  });
}

/**
 * Whether `text` holds every word of `query` (case and accents aside).
 * @param {string} text
 * @param {string[]} words
 */
function matches(text, words) {
  const plain = text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  return words.every((w) => plain.includes(w));
}

/**
 * The "+" flow: a type, then (when there are several) a provider. A search box filters the
 * types and providers as the user types; the arrow keys move through the results and
 * Enter picks one. Resolves {type, provider} or null.
 * @param {{catalog: IntegrationType[], accounts: Account[], enabledTypes: string[]}} args
 * @returns {Promise<{type: string, provider: string} | null>}
 */
export function typePicker({ catalog, accounts, enabledTypes }) {
  return modal({
    title: 'Add integration account',
    className: 'dialog-wide',
    build: (close) => {
      const body = h('div', { class: 'picker' });
      const offered = catalog
        .map((type) => ({ type, a: availability(type, catalog, accounts, enabledTypes) }))
        .filter(({ a }) => !a.hidden);
      const search = h('input', {
        type: 'search', id: 'pick-search', class: 'input pick-search', autocomplete: 'off', spellcheck: 'false',
        placeholder: 'e.g. Zendesk, speech, WFM', 'aria-describedby': 'pick-search-help', 'aria-controls': 'pick-results',
      });
      const count = h('p', { class: 'muted small pick-count', id: 'pick-search-help', 'aria-live': 'polite' });
      const list = h('ul', { class: 'pick-grid', id: 'pick-results', 'aria-label': 'Integration types' });
      arrowKeys(list, search);

      /**
       * @param {IntegrationType} type
       * @param {Availability} a
       */
      const typeCard = (type, a) => h('li', {},
        h('button', {
          type: 'button',
          class: 'pick-card',
          disabled: a.taken,
          dataset: { type: type.key },
          'aria-describedby': a.taken ? `why-${type.key}` : null,
          onclick: () => {
            if (type.providers.length === 1) close({ type: type.key, provider: type.providers[0].key });
            else showProviders(type, a);
          },
        },
        h('span', { class: 'pick-title' }, type.label, type.gated ? h('span', { class: 'badge badge-info' }, 'Enabled by your provider') : null),
        h('span', { class: 'pick-text' }, firstSentence(type.description)),
        a.taken ? h('span', { class: 'pick-taken', id: `why-${type.key}` }, icon('lock'), a.why) : null));

      /**
       * A provider found by the search: picks the type and provider at once.
       * @param {IntegrationType} type
       * @param {{provider: Provider, taken: boolean, why: string | null}} p
       */
      const providerCard = (type, p) => h('li', {},
        h('button', {
          type: 'button',
          class: 'pick-card',
          disabled: p.taken,
          dataset: { type: type.key, provider: p.provider.key },
          onclick: () => close({ type: type.key, provider: p.provider.key }),
        },
        h('span', { class: 'pick-title' }, p.provider.label),
        h('span', { class: 'pick-text' }, `${type.label}: ${firstSentence(type.description)}`),
        p.taken ? h('span', { class: 'pick-taken' }, icon('lock'), p.why) : null));

      const filter = () => {
        const words = search.value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().split(/\s+/).filter(Boolean);
        const cards = offered.flatMap(({ type, a }) => {
          if (!words.length || matches(`${type.label} ${type.description}`, words)) return [typeCard(type, a)];
          if (type.providers.length < 2) return matches(type.providers[0].label, words) ? [typeCard(type, a)] : [];
          return (a.providers || []).filter((p) => matches(p.provider.label, words)).map((p) => providerCard(type, p));
        });
        replace(list, cards);
        count.textContent = words.length
          ? (cards.length ? `${cards.length} ${cards.length === 1 ? 'match' : 'matches'}. Use the arrow keys to move through them, Enter to pick.` : 'Nothing matches: try another word.')
          : 'Type to search, or use the arrow keys to move through the types.';
      };
      search.addEventListener('input', filter);
      search.addEventListener('keydown', (event) => {
        const first = /** @type {HTMLElement | null} */ (list.querySelector('.pick-card:not([disabled])'));
        if (event.key === 'ArrowDown' && first) {
          event.preventDefault();
          first.focus();
        } else if (event.key === 'Enter') {
          event.preventDefault();
          if (first) first.click();
        }
      });

      const showTypes = () => {
        replace(body,
          h('p', { class: 'muted' }, 'Choose what to connect. Types your service provider has not enabled are not listed.'),
          h('div', { class: 'field pick-search-field' }, h('label', { for: 'pick-search', class: 'field-label' }, 'Search types and providers'), search, count),
          list);
        filter();
        search.focus();
      };
      /**
       * @param {IntegrationType} type
       * @param {Availability} a
       */
      const showProviders = (type, a) => {
        const items = (a.providers || []).map(({ provider, taken, why }) => h('li', {},
          h('button', {
            type: 'button',
            class: 'pick-card',
            disabled: taken,
            dataset: { provider: provider.key },
            onclick: () => close({ type: type.key, provider: provider.key }),
          },
          h('span', { class: 'pick-title' }, provider.label),
          h('span', { class: 'pick-text' }, provider.test.kind === 'supported' ? 'Has a connection test.' : 'No connection test.'),
          taken ? h('span', { class: 'pick-taken' }, icon('lock'), why) : null)));
        const providers = h('ul', { class: 'pick-grid', 'aria-label': `${type.label} providers` }, items);
        arrowKeys(providers, null);
        replace(body,
          h('button', { type: 'button', class: 'btn btn-link back', onclick: showTypes }, icon('back'), 'All types'),
          h('h3', { class: 'picker-subtitle' }, `${type.label}: choose the provider`),
          providers);
        const first = /** @type {HTMLElement | null} */ (body.querySelector('.pick-card:not([disabled])'));
        if (first) first.focus();
      };
      showTypes();
      return body;
    },
  });
}
