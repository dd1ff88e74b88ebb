// @ts-check
// Building DOM nodes without HTML strings: text is always set as text, never parsed, and
// input values are set as properties (never as attributes), so a secret typed into a
// password box never shows up in the page's serialized source.

const PROPS = new Set(['value', 'checked', 'disabled', 'readOnly', 'required', 'hidden']);

/**
 * What may go into an element: nodes, text, numbers, nested lists, and nothing (null,
 * undefined, false are skipped).
 * @typedef {Node | string | number | boolean | null | undefined | ChildList} Child
 * @typedef {ReadonlyArray<Child>} ChildList
 */

/**
 * Attributes and properties of `h`: `class` (a string or a list), `dataset`, `on<event>`
 * listeners, the properties in PROPS, and any other attribute (true sets it empty; null,
 * undefined and false leave it out).
 * @typedef {Record<string, any>} Attrs
 */

/**
 * h('button', {class: 'btn', onclick: fn}, 'Save')
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  /** @type {Record<string, unknown>} */
  const props = /** @type {any} */ (el);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) {
      if (PROPS.has(key) && value === false) props[key] = false;
      continue;
    }
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (PROPS.has(key)) {
      props[key] = value;
    } else if (key === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * Appends the children, lists flattened in order.
 * @template {Element} E
 * @param {E} el
 * @param {ChildList} children
 * @returns {E}
 */
function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Replaces an element's children.
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let counter = 0;
/**
 * A unique id for label/for and aria references.
 * @param {string} prefix
 */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * A small inline SVG icon from a path list (no external sprites, CSP-friendly).
 * @type {Record<string, string[]>}
 */
const ICONS = {
  plus: ['M12 5v14', 'M5 12h14'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  cross: ['M6 6l12 12', 'M18 6L6 18'],
  dash: ['M6 12h12'],
  alert: ['M12 8v5', 'M12 16.5v.5', 'M10.3 3.9L2.6 17.5A2 2 0 0 0 4.3 20.5h15.4a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z'],
  lock: ['M7 11V8a5 5 0 0 1 10 0v3', 'M5 11h14v10H5z'],
  back: ['M15 6l-6 6 6 6'],
  plug: ['M9 3v5', 'M15 3v5', 'M6 8h12v3a6 6 0 0 1-12 0z', 'M12 17v4'],
  copy: ['M9 9h10v10H9z', 'M5 15V5h10'],
  history: ['M3 12a9 9 0 1 0 3-6.7', 'M3 4v4h4', 'M12 8v4l3 2'],
  logout: ['M15 4h4v16h-4', 'M10 8l-4 4 4 4', 'M6 12h10'],
  trash: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13'],
  refresh: ['M20 11a8 8 0 1 0-2.3 5.7', 'M20 4v7h-7'],
  search: ['M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z', 'M21 21l-5-5'],
  upload: ['M12 15V4', 'M7 9l5-5 5 5', 'M5 15v5h14v-5'],
  download: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
  play: ['M8 5v14l11-7z'],
  building: ['M4 21V5l8-3v19', 'M12 9h8v12', 'M8 8v.5', 'M8 12v.5', 'M8 16v.5', 'M16 13v.5', 'M16 17v.5'],
  users: ['M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M2 21v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 6 6v1', 'M16 3.5a4 4 0 0 1 0 7', 'M22 21v-1a6 6 0 0 0-4-5.6'],
  login: ['M9 4H5v16h4', 'M14 8l4 4-4 4', 'M18 12H8'],
  edit: ['M4 20h4L19 9l-4-4L4 16z', 'M13.5 6.5l4 4'],
  key: ['M8 15a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M12 11h9', 'M18 11v3', 'M21 11v2'],
  activity: ['M3 12h4l3-8 4 16 3-8h4'],
};

/**
 * @param {string} name A key of ICONS.
 * @param {string} [cls] More classes.
 */
export function icon(name, cls) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon ${cls || ''}`.trim());
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/**
 * A short-lived message in the corner.
 * @param {string} message
 * @param {'error'} [kind]
 */
export function toast(message, kind) {
  const host = /** @type {HTMLElement} */ (document.getElementById('toasts'));
  const el = h('div', { class: ['toast', kind && `toast-${kind}`] }, icon(kind === 'error' ? 'alert' : 'check'), message);
  host.append(el);
  while (host.firstElementChild && host.children.length > 3) host.firstElementChild.remove();
  setTimeout(() => el.remove(), 4000);
}

/**
 * "12 Mar 2026, 14:05" in the browser's locale and time zone.
 * @param {string} iso
 */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/**
 * "just now", "5 min ago", "3 h ago", "2 days ago", else the date.
 * @param {string} iso
 */
function relativeTime(iso) {
  const d = new Date(iso);
  const seconds = (Date.now() - d.getTime()) / 1000;
  if (Number.isNaN(seconds)) return String(iso);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)} days ago`;
  return formatTime(iso);
}

/**
 * A <time> element showing a relative time, with the exact time as its tooltip.
 * @param {string} iso
 */
export function timeEl(iso) {
  return h('time', { datetime: iso, title: formatTime(iso) }, relativeTime(iso));
}

/**
 * Marks a button as working (disabled, with a spinner) or done.
 * @param {HTMLButtonElement} button
 * @param {boolean} on
 */
export function busy(button, on) {
  button.disabled = on;
  button.classList.toggle('is-busy', on);
}

/**
 * An error banner: a title and the problems listed under it.
 * @param {string} title
 * @param {string[]} messages
 */
export function problemBanner(title, messages) {
  return h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'),
    h('div', {}, h('strong', {}, title),
      messages.length ? h('ul', { class: 'banner-list' }, messages.map((m) => h('li', {}, m))) : null));
}
