// @ts-check
// Interaction Records: the tenant's call recordings, searched by time range, service,
// agent, customer phone, direction and the words of their transcripts (the filters live in
// the URL, so reload, Back and links keep them), and one recording: its details, a player
// whose audio the browser fetches with Range requests from the playback API (which streams
// it from wherever it now is: the server, or the bucket an export put it in), a download,
// where each export job put it, and its transcript with the sentiment of each utterance.

import { call, paths } from './api.js';
import { formatTime, h, icon, replace, timeEl, toast } from './dom.js';
import { formatBytes } from './exports.js';
import { categoryOf } from './report.js';
import { sortableTable } from './table.js';

/**
 * @typedef {import('./api.js').Recording} Recording
 * @typedef {import('./api.js').RecordingExport} RecordingExport
 * @typedef {import('./api.js').Transcript} Transcript
 * @typedef {import('./api.js').Titled} Titled
 * @typedef {import('./api.js').Tenant} Tenant
 *
 * @typedef {object} Names How the API document titles the values the pages show.
 * @property {Record<string, Titled>} directions
 * @property {Record<string, Titled>} audioStates
 * @property {Record<string, Titled>} exportStates
 * @property {Record<string, Titled>} sentiments
 */

/** The search's filters, as the URL and the API name them. */
const FILTERS = ['from', 'to', 'service', 'agent', 'phone', 'direction', 'q'];
/** Recordings per page. */
const PAGE = 50;
const POLL_MS = 2000;

/**
 * @param {string} tenant
 * @param {string} [rest]
 */
export const recordsHref = (tenant, rest = '') => `#/t/${encodeURIComponent(tenant)}/recordings${rest}`;

/** The last search's query, so that a recording's page leads back to it. */
let lastSearch = '';
/** Set by a search from the form: the results take the focus once they are there. */
let focusResults = false;
/** Set by a sort that needed a new search: the key of the column whose header takes the focus back. */
let focusSort = '';

/** Forgets the last search (at sign-out: the next person starts afresh). */
export function forgetSearch() {
  lastSearch = '';
}

/**
 * The search page's link with its last filters.
 * @param {string} tenant
 */
export const searchHref = (tenant) => recordsHref(tenant, lastSearch ? `?${lastSearch}` : '');

/**
 * A title of `names`, or the value itself when the document has none.
 * @param {Record<string, Titled>} names
 * @param {string} value
 */
const title = (names, value) => names[value]?.title || value;

/**
 * "2026-03-12T14:05" (what a datetime-local input holds, in the browser's time zone) for
 * an RFC 3339 time; empty when it is not one.
 * @param {string} iso
 */
function localInput(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime())) return '';
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The RFC 3339 time (UTC) of a datetime-local value; empty when there is none.
 * @param {string} local
 */
function isoOf(local) {
  const d = new Date(local);
  return local && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
}

/** @param {Recording} r */
const agentText = (r) => {
  const name = [r.agent_first_name, r.agent_last_name].filter(Boolean).join(' ');
  return name ? `${name} (${r.agent_login})` : r.agent_login;
};

/**
 * The order the API pages in for the table's sort: oldest call first when the table is
 * sorted by call time ascending, else newest first (the other columns sort the rows loaded).
 * @param {string} sortText
 * @returns {import('./api.js').RecordingOrder}
 */
function apiOrder(sortText) {
  return sortText === 'time' ? 'oldest' : 'newest';
}

/**
 * The search page: the filters, the result count and the results, page by page.
 * @param {object} args
 * @param {Tenant} args.tenant
 * @param {URLSearchParams} args.query The filters of the URL, and `sort` (a column's key, `-` first for descending).
 * @param {Names} args.names
 * @param {(query: string) => void} args.onSearch Shows the search of these filters (a new URL).
 */
export function recordsView({ tenant, query, names, onSearch }) {
  /** @type {Record<string, string>} */
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) || '']));
  const kept = new URLSearchParams(FILTERS.filter((k) => filters[k]).map((k) => [k, filters[k]]));
  let sortText = query.get('sort') || '';
  /** @type {import('./table.js').SortOrder | null} */
  const sortOrder = sortText ? { key: sortText.replace(/^-/, ''), descending: sortText.startsWith('-') } : null;
  const order = apiOrder(sortText);
  /** The URL's query: the filters and the order. */
  const withSort = () => {
    const url = new URLSearchParams(kept);
    if (sortText) url.set('sort', sortText);
    return url;
  };
  lastSearch = withSort().toString();

  /**
   * A labelled input of the form.
   * @param {string} key
   * @param {string} label
   * @param {Record<string, any>} attrs
   */
  const field = (key, label, attrs) => h('div', { class: 'toolbar-field' },
    h('label', { for: `rec-${key}`, class: 'toolbar-label' }, label),
    h('input', { id: `rec-${key}`, name: key, class: 'input', autocomplete: 'off', ...attrs }));
  const direction = h('select', { id: 'rec-direction', name: 'direction', class: 'input' },
    h('option', { value: '' }, 'Any direction'),
    Object.entries(names.directions).map(([value, t]) => h('option', { value }, t.title)));
  direction.value = filters.direction;
  const form = h('form', { class: 'toolbar records-filters', role: 'search', 'aria-label': 'Search interaction records' },
    field('q', 'Transcript words', { type: 'search', value: filters.q, placeholder: 'e.g. refund card', maxlength: 200 }),
    field('phone', 'Customer phone', { type: 'search', value: filters.phone, inputmode: 'tel' }),
    field('agent', 'Agent login', { type: 'search', value: filters.agent }),
    field('service', 'Service', { type: 'search', value: filters.service }),
    h('div', { class: 'toolbar-field' }, h('label', { for: 'rec-direction', class: 'toolbar-label' }, 'Direction'), direction),
    field('from', 'From', { type: 'datetime-local', value: localInput(filters.from) }),
    field('to', 'Until', { type: 'datetime-local', value: localInput(filters.to) }),
    h('div', { class: 'toolbar-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary search-records' }, icon('search'), 'Search'),
      kept.toString() ? h('a', { class: 'btn btn-secondary clear-filters', href: recordsHref(tenant.id) }, 'Clear filters') : null));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const key of FILTERS) {
      const raw = String(data.get(key) || '').trim();
      const value = key === 'from' || key === 'to' ? isoOf(raw) : raw;
      if (value) next.set(key, value);
    }
    if (sortText) next.set('sort', sortText);
    focusResults = true;
    onSearch(next.toString());
  });

  const summary = h('p', { class: 'records-summary', role: 'status', tabindex: '-1' }, 'Searching…');
  const problem = h('div', { class: 'banner-host' });
  /** @type {Recording[]} */
  let rows = [];
  /** @type {string | null} */
  let cursor = null;
  /** @type {import('./table.js').Column<Recording>[]} */
  const columns = [
    {
      key: 'time', label: 'Call time', rowHeader: true, sortBy: (r) => r.call_started_at,
      cell: (r) => h('a', { class: 'record-link', href: recordsHref(tenant.id, `/${encodeURIComponent(r.recording_id)}`) },
        h('time', { datetime: r.call_started_at }, formatTime(r.call_started_at))),
    },
    { key: 'direction', label: 'Direction', sortBy: (r) => r.direction, cell: (r) => title(names.directions, r.direction) },
    { key: 'agent', label: 'Agent', sortBy: (r) => agentText(r), cell: (r) => agentText(r) },
    { key: 'phone', label: 'Customer phone', sortBy: (r) => r.customer_phone || null, cell: (r) => r.customer_phone || h('span', { class: 'muted' }, '—') },
    { key: 'service', label: 'Service', sortBy: (r) => r.service, cell: (r) => r.service },
    { key: 'size', label: 'Size', sortBy: (r) => r.audio.size, cell: (r) => (r.audio.size === null ? h('span', { class: 'muted' }, '—') : formatBytes(r.audio.size)) },
    { key: 'audio', label: 'Audio', sortBy: (r) => r.audio.state, cell: (r) => audioBadge(names, r) },
    { key: 'export', label: 'Export', sortBy: (r) => { const state = exportSummary(r); return state ? EXPORT_ORDER.indexOf(state) : EXPORT_ORDER.length; }, cell: (r) => exportBadge(names, r) },
  ];
  const table = sortableTable({
    label: 'Interaction records',
    tableClass: 'records-table',
    rows,
    sort: sortOrder,
    onSort: (next) => {
      sortText = `${next.descending ? '-' : ''}${next.key}`;
      lastSearch = withSort().toString();
      // Oldest first is the API's order, so a new search (that finds the oldest calls, not
      // only those loaded); any other order sorts the loaded rows and stays in the URL too.
      if (apiOrder(sortText) !== order) {
        focusSort = next.key;
        onSearch(lastSearch);
        return;
      }
      history.replaceState(null, '', recordsHref(tenant.id, `?${lastSearch}`));
      summary.textContent = count();
    },
    rowData: (r) => ({ id: r.recording_id }),
    columns,
  });
  table.element.hidden = true;
  const more = h('button', { type: 'button', class: 'btn btn-secondary load-more', hidden: true }, 'Load more');
  const card = h('section', { class: 'card list-card records-card', 'aria-label': 'Results' }, table.element);
  card.hidden = true;

  const count = () => {
    const n = rows.length;
    const noun = n === 1 ? 'recording' : 'recordings';
    const column = sortText.replace(/^-/, '');
    const label = column !== 'time' && columns.find((c) => c.key === column)?.label;
    if (cursor && label) return `${n} ${noun} shown; more match. Sorted by ${label} among those shown: Load more to include the rest.`;
    if (cursor) return `${n} ${noun} shown; more match. Load more to see them.`;
    if (n === 0) return kept.toString() ? 'No recording matches these filters.' : 'No recordings yet.';
    return `${n} ${noun} found.`;
  };

  /** @param {boolean} first */
  const fetchPage = async (first) => {
    const refocus = first ? focusSort : '';
    if (first) focusSort = '';
    const params = new URLSearchParams(kept);
    if (order !== 'newest') params.set('order', order);
    params.set('limit', String(PAGE));
    if (!first && cursor) params.set('cursor', cursor);
    more.disabled = true;
    const reply = await call('GET', `${paths.recordings(tenant.id)}?${params}`);
    more.disabled = false;
    if (!reply.ok) {
      replace(problem, h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'),
        h('div', {}, h('strong', {}, 'The search could not be done.'), h('p', {}, reply.message))));
      summary.textContent = '';
      return;
    }
    /** @type {import('./api.js').RecordingPage} */
    const page = reply.body;
    const before = rows.length;
    rows = first ? page.items : [...rows, ...page.items];
    cursor = page.next_cursor;
    table.update(rows);
    table.element.hidden = rows.length === 0;
    card.hidden = rows.length === 0;
    more.hidden = !cursor;
    summary.textContent = count();
    if (first && focusResults) {
      focusResults = false;
      summary.focus();
    }
    if (refocus) {
      /** @type {HTMLElement | null} */ (table.element.querySelector(`[data-sort="${refocus}"]`))?.focus();
    }
    if (!first) {
      const next = page.items[0];
      const link = next && card.querySelector(`tr[data-id="${CSS.escape(next.recording_id)}"] a.record-link`);
      if (link instanceof HTMLElement) link.focus();
      else if (rows.length === before) summary.focus();
    }
  };
  more.addEventListener('click', () => fetchPage(false));
  fetchPage(true);

  return h('div', { class: 'records-page' }, form, problem, summary, card, h('div', { class: 'records-more' }, more));
}

/**
 * Where the recording's audio is, as a badge.
 * @param {Names} names
 * @param {Recording} r
 */
function audioBadge(names, r) {
  const cls = { none: 'badge-neutral', local: 'badge-ok-soft', removed: 'badge-info' }[r.audio.state];
  return h('span', { class: ['badge', cls, 'audio-state'], dataset: { state: r.audio.state } }, title(names.audioStates, r.audio.state));
}

/** The badge of each export state. */
const EXPORT_BADGES = { uploading: 'badge-info', success: 'badge-ok', failed: 'badge-failed' };
/** Export states from the one to look at first; a recording shows the first its exports have. */
const EXPORT_ORDER = /** @type {const} */ (['failed', 'uploading', 'success']);

/**
 * How the recording's exports stand at a glance: failed when one job's did, else being
 * uploaded, else uploaded; null when no job tried.
 * @param {Recording} r
 */
function exportSummary(r) {
  const exports = r.exports || [];
  return EXPORT_ORDER.find((state) => exports.some((e) => e.state === state)) || null;
}

/**
 * The export summary as a badge; a failure's reason is its tooltip (the recording's page
 * says more).
 * @param {Names} names
 * @param {Recording} r
 */
function exportBadge(names, r) {
  const state = exportSummary(r);
  if (!state) return h('span', { class: 'muted export-summary', dataset: { state: 'none' }, title: 'Not exported' }, '—');
  const failed = (r.exports || []).find((e) => e.state === 'failed');
  return h('span', { class: ['badge', EXPORT_BADGES[state], 'export-summary'], dataset: { state }, title: failed && failed.error ? failed.error : null },
    title(names.exportStates, state));
}

/**
 * "1:05" for 65 seconds.
 * @param {number | null} seconds
 */
function clock(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * One recording: details, player and download, exports, transcript.
 * @param {object} args
 * @param {Tenant} args.tenant
 * @param {Recording} args.recording
 * @param {import('./api.js').ExportJob[]} args.jobs The tenant's export jobs.
 * @param {Record<string, string>} args.accountNames AWS account names by id.
 * @param {Names} args.names
 * @param {boolean} args.canTranscribe
 */
export function recordView({ tenant, recording: r, jobs, accountNames, names, canTranscribe }) {
  const detail = (/** @type {string} */ label, /** @type {import('./dom.js').Child} */ value) => [h('dt', {}, label), h('dd', {}, value)];
  const details = h('section', { class: 'card record-details', 'aria-labelledby': 'record-details-title' },
    h('h2', { class: 'card-title', id: 'record-details-title' }, 'Call'),
    h('dl', { class: 'record-facts' },
      detail('Started', h('time', { datetime: r.call_started_at }, formatTime(r.call_started_at))),
      detail('Direction', title(names.directions, r.direction)),
      detail('Agent', agentText(r)),
      detail('Customer phone', r.customer_phone || h('span', { class: 'muted' }, 'Not given')),
      detail('Service', r.service),
      r.disposition ? detail('Disposition', r.disposition) : null,
      r.flagged ? detail('Flagged', 'Yes') : null,
      detail('Interaction id', h('code', {}, r.global_interaction_id)),
      detail('Recording id', h('code', {}, r.recording_id)),
      detail('Received', timeEl(r.received_at))));

  const audio = r.audio;
  const player = audio.state === 'none'
    ? h('p', { class: 'no-audio notice' }, icon('alert'), 'The audio of this call has not been received yet: there is nothing to play.')
    : [
      h('audio', { class: 'record-audio', controls: true, preload: 'metadata', src: paths.recordingAudio(tenant.id, r.recording_id), 'aria-label': `Recording of the call at ${formatTime(r.call_started_at)}` },
        'Your browser cannot play this audio; download it instead.'),
      h('div', { class: 'record-audio-foot' },
        h('a', { class: 'btn btn-secondary btn-small download-audio', href: `${paths.recordingAudio(tenant.id, r.recording_id)}?download=true`, download: '' },
          icon('download'), 'Download'),
        h('span', { class: 'muted small' },
          [audioBadge(names, r), audio.size !== null ? ` ${formatBytes(audio.size)}` : null, audio.content_type ? ` · ${audio.content_type}` : null,
            audio.state === 'removed' ? ' · streamed from the bucket it was exported to' : null])),
    ];
  const playerCard = h('section', { class: 'card record-player', 'aria-labelledby': 'record-player-title' },
    h('h2', { class: 'card-title', id: 'record-player-title' }, 'Audio'), h('div', { class: 'card-body' }, player));

  const exports = r.exports || [];
  const jobNames = Object.fromEntries(jobs.map((j) => [j.id, j.name]));
  // Jobs of the recording's service that have not taken it yet: their next run will.
  const pending = audio.state === 'none' ? [] : jobs.filter((j) => j.services.includes(r.service) && !exports.some((e) => e.job_id === j.id));
  const exportsCard = h('section', { class: 'card record-exports', 'aria-labelledby': 'record-exports-title' },
    h('h2', { class: 'card-title', id: 'record-exports-title' }, 'Export'),
    h('div', { class: 'card-body' }, exports.length || pending.length
      ? h('ul', { class: 'export-list' },
        exports.map((e) => exportItem(tenant.id, e, jobNames, accountNames, names)),
        pending.map((j) => h('li', { class: 'export-item', dataset: { state: 'pending', job: j.id } },
          h('div', { class: 'export-head' },
            h('span', { class: 'badge badge-neutral export-state' }, 'Pending'),
            h('strong', {}, j.name),
            h('span', { class: 'muted small' }, !j.enabled
              ? 'the job is disabled; Run now exports it'
              : j.next_run_at ? ['next run ', h('time', { datetime: j.next_run_at, title: formatTime(j.next_run_at) }, formatTime(j.next_run_at))] : 'exported by its next run')))))
      : h('p', { class: 'muted export-none' }, audio.state === 'none'
        ? 'Nothing to export until the audio is received.'
        : 'No export job exports recordings of this service.')));

  return h('div', { class: 'record-page' }, playerCard, details, exportsCard,
    transcriptCard({ tenant: tenant.id, recording: r, names, canTranscribe }));
}

/**
 * One job's export of the recording: pending, uploaded (bucket and key) or failed (why,
 * in the failure category's words, with a link to the AWS account to test it).
 * @param {string} tenant
 * @param {RecordingExport} e
 * @param {Record<string, string>} jobNames
 * @param {Record<string, string>} accountNames
 * @param {Names} names
 */
function exportItem(tenant, e, jobNames, accountNames, names) {
  const cls = EXPORT_BADGES[e.state];
  const job = jobNames[e.job_id] || 'A deleted export job';
  const account = h('a', { class: 'export-account', href: `#/t/${encodeURIComponent(tenant)}/a/${encodeURIComponent(e.account_id)}` },
    accountNames[e.account_id] || 'the AWS account');
  const category = e.error_category ? categoryOf(e.error_category) : undefined;
  return h('li', { class: 'export-item', dataset: { state: e.state, job: e.job_id } },
    h('div', { class: 'export-head' },
      h('span', { class: ['badge', cls, 'export-state'] }, title(names.exportStates, e.state)),
      h('strong', {}, job),
      h('span', { class: 'muted small' }, `${e.attempts === 1 ? '1 attempt' : `${e.attempts} attempts`}, last `, timeEl(e.updated_at))),
    e.state === 'success'
      ? h('p', { class: 'export-where' }, 'In the bucket ', h('code', { class: 'export-bucket' }, e.bucket || '—'), ' as ', h('code', { class: 'export-key' }, e.object_key))
      : null,
    e.state === 'uploading'
      ? h('p', { class: 'export-where muted' }, 'Being uploaded as ', h('code', { class: 'export-key' }, e.object_key), '; the next run goes on with it.')
      : null,
    e.state === 'failed'
      ? h('div', { class: 'export-failure' },
        h('p', { class: 'export-reason' }, h('strong', { class: 'export-category' }, category ? `${category.title}: ` : 'The upload failed: '), e.error || 'no reason was recorded.'),
        category ? h('p', { class: 'muted small export-advice' }, category.description) : null,
        h('p', { class: 'small' }, 'The next run of the job tries again. Check and test ', account, ' it uploads with.'))
      : null);
}

/**
 * The transcript: its utterances with their sentiment, or why there is none, and (for
 * administrators) a way to make one. Follows a running transcript until it ends.
 * @param {object} args
 * @param {string} args.tenant
 * @param {Recording} args.recording
 * @param {Names} args.names
 * @param {boolean} args.canTranscribe
 */
function transcriptCard({ tenant, recording, names, canTranscribe }) {
  const body = h('div', { class: 'card-body transcript-body', 'aria-live': 'polite' }, h('p', { class: 'muted loading' }, 'Loading the transcript…'));
  const card = h('section', { class: 'card record-transcript', 'aria-labelledby': 'record-transcript-title' },
    h('h2', { class: 'card-title', id: 'record-transcript-title' }, 'Transcript'), body);
  const path = paths.transcript(tenant, recording.recording_id);
  const hasAudio = recording.audio.state !== 'none';

  /** @param {string} label */
  const transcribeButton = (label) => (canTranscribe && hasAudio
    ? h('button', { type: 'button', class: 'btn btn-secondary btn-small transcribe', onclick: transcribe }, label)
    : null);

  /** @param {Transcript} t */
  const show = (t) => {
    if (t.state === 'running') {
      replace(body, h('p', { class: 'transcript-state muted', dataset: { state: 'running' } }, 'Being transcribed… this updates by itself.'));
      setTimeout(() => { if (card.isConnected) load(); }, POLL_MS);
      return;
    }
    if (t.state === 'failed') {
      const category = t.error?.category ? categoryOf(t.error.category) : undefined;
      replace(body,
        h('p', { class: 'transcript-state error-text', dataset: { state: 'failed' } },
          category ? `${category.title}: ` : 'The transcription failed: ', t.error?.detail || ''),
        category ? h('p', { class: 'muted small' }, category.description) : null,
        transcribeButton('Transcribe again'));
      return;
    }
    replace(body,
      h('p', { class: 'transcript-state muted small', dataset: { state: 'done' } },
        `Transcribed ${t.finished_at ? formatTime(t.finished_at) : ''}`, t.requested_by === 'auto' ? ' automatically' : ''),
      t.utterances.length
        ? h('ol', { class: 'utterances' }, t.utterances.map((u) => h('li', { class: 'utterance' },
          u.start !== null ? h('span', { class: 'utterance-time muted small' }, `${clock(u.start)}–${clock(u.end)}`) : null,
          h('span', { class: 'utterance-text' }, u.text),
          u.sentiment
            ? h('span', { class: ['badge', 'sentiment', `sentiment-${u.sentiment.label}`], title: `Score ${u.sentiment.score.toFixed(2)}` },
              title(names.sentiments, u.sentiment.label))
            : null)))
        : h('p', { class: 'muted' }, 'Nothing was said that the service recognised.'),
      t.sentiment_error ? h('p', { class: 'muted small sentiment-error' }, `No sentiment for some utterances: ${t.sentiment_error}`) : null,
      transcribeButton('Transcribe again'));
  };

  const load = async () => {
    const reply = await call('GET', path);
    if (reply.ok) return show(reply.body);
    if (reply.status === 404) {
      replace(body,
        h('p', { class: 'transcript-state muted', dataset: { state: 'none' } }, hasAudio
          ? 'This recording has not been transcribed.'
          : 'There is no transcript: the audio has not been received yet.'),
        transcribeButton('Transcribe'));
      return undefined;
    }
    replace(body, h('p', { class: 'error-text' }, `The transcript could not be loaded: ${reply.message}`));
    return undefined;
  };

  async function transcribe() {
    const button = body.querySelector('button.transcribe');
    if (button instanceof HTMLButtonElement) button.disabled = true;
    const reply = await call('POST', path, { body: {} });
    if (!reply.ok) {
      if (button instanceof HTMLButtonElement) button.disabled = false;
      toast(`The recording could not be transcribed: ${reply.message}`, 'error');
      return;
    }
    show(reply.body);
    /** @type {HTMLElement | null} */ (body.querySelector('.transcript-state'))?.setAttribute('tabindex', '-1');
    /** @type {HTMLElement | null} */ (body.querySelector('.transcript-state'))?.focus();
  }

  load();
  return card;
}
