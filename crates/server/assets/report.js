// @ts-check
// Connection test reports and action results, and the health badge of the account list.

import { formatTime, h, icon, timeEl } from './dom.js';

/**
 * What each failure category means, in terms of what the user can do about it: its title
 * and advice, from the API document (loaded at sign-in, see `setCategories`).
 * @type {Record<string, import('./api.js').Titled>}
 */
let categories = {};

/** @param {Record<string, import('./api.js').Titled>} described */
export function setCategories(described) {
  categories = described;
}

/**
 * How the API document titles and advises a failure category.
 * @param {string} category
 * @returns {import('./api.js').Titled | undefined}
 */
export function categoryOf(category) {
  return categories[category];
}

/** @type {Record<string, string>} */
const STEP_ICON = { ok: 'check', failed: 'cross' };

/** @param {string} name */
function stepName(name) {
  /** @type {Record<string, string>} */
  const known = { tls: 'TLS', resolve: 'Resolve host', connect: 'Connect', authenticate: 'Authenticate', read: 'Read', request: 'Request', certificate: 'Certificate' };
  return known[name] || name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, ' ');
}

/**
 * A small badge with the last test's outcome and when it ran.
 * @param {import('./api.js').TestReport | null} lastTest
 */
export function healthBadge(lastTest) {
  if (!lastTest || !lastTest.status) return h('span', { class: 'health health-none' }, h('span', { class: 'badge badge-neutral' }, 'Not tested'));
  const when = lastTest.tested_at ? timeEl(lastTest.tested_at) : null;
  if (lastTest.status === 'ok') {
    return h('span', { class: 'health health-ok' }, h('span', { class: 'badge badge-ok' }, icon('check'), 'Healthy'), when);
  }
  if (lastTest.status === 'failed') {
    const label = lastTest.category && categories[lastTest.category]?.title || 'Failed';
    return h('span', { class: 'health health-failed', title: lastTest.message || '' }, h('span', { class: 'badge badge-failed' }, icon('cross'), label), when);
  }
  return h('span', { class: 'health health-none' }, h('span', { class: 'badge badge-neutral' }, 'No test'), when);
}

/**
 * Each step of a test or action, with its outcome, detail and duration.
 * @param {import('./api.js').TestStep[] | undefined} steps
 */
function stepsList(steps) {
  if (!steps || !steps.length) return null;
  return h('ol', { class: 'steps', 'aria-label': 'Steps' }, steps.map((step) => h('li', { class: `step step-${step.status}` },
    h('span', { class: 'step-icon' }, icon(STEP_ICON[step.status] || 'dash')),
    h('span', { class: 'step-name' }, stepName(step.name)),
    h('span', { class: 'step-detail' }, step.detail || ''),
    typeof step.duration_ms === 'number' ? h('span', { class: 'step-time' }, `${step.duration_ms} ms`) : null)));
}

/**
 * The full report of one connection test (or failed action, named by `what`): outcome, advice, and each step.
 * @param {import('./api.js').TestReport} report
 * @param {string} [what]
 */
export function reportView(report, what) {
  const ok = report.status === 'ok';
  const failed = report.status === 'failed';
  const category = failed && report.category ? categories[report.category] : null;
  const reason = category ? `: ${category.title}` : '';
  const headline = ok ? 'Connection OK' : failed ? `${what ? `${what} failed` : 'Connection failed'}${reason}` : 'No connection test';
  return h('div', { class: ['report', ok ? 'report-ok' : failed ? 'report-failed' : 'report-none'], role: 'status' },
    h('div', { class: 'report-head' },
      h('span', { class: 'report-icon' }, icon(ok ? 'check' : failed ? 'cross' : 'dash')),
      h('strong', { class: 'report-title' }, headline)),
    report.message ? h('p', { class: 'report-message' }, report.message) : null,
    category ? h('p', { class: 'report-advice' }, category.description) : null,
    stepsList(report.steps),
    h('p', { class: 'report-meta' },
      report.tested_at ? `Tested ${formatTime(report.tested_at)}` : null,
      typeof report.duration_ms === 'number' ? ` · ${report.duration_ms} ms` : null));
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function valueText(value) {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.map(valueText).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * "event_types" -> "Event types", "url" -> "URL".
 * @param {string} key
 */
function keyLabel(key) {
  const text = key.replace(/_/g, ' ').replace(/\burl\b/gi, 'URL');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * What an action answered: its message, and the webhook read-back when there is one.
 * @param {string} label
 * @param {{message?: string, steps?: import('./api.js').TestStep[], webhook?: Record<string, unknown>}} body
 */
export function actionResultView(label, body) {
  const webhook = body.webhook && typeof body.webhook === 'object'
    ? h('dl', { class: 'readback' }, Object.entries(body.webhook).flatMap(([k, v]) => [h('dt', {}, keyLabel(k)), h('dd', {}, valueText(v))]))
    : null;
  return h('div', { class: 'report report-ok', role: 'status' },
    h('div', { class: 'report-head' }, h('span', { class: 'report-icon' }, icon('check')), h('strong', { class: 'report-title' }, label)),
    body.message ? h('p', { class: 'report-message' }, body.message) : null,
    webhook ? h('p', { class: 'muted' }, 'Read back from the service:') : null,
    webhook,
    stepsList(body.steps));
}
