// @ts-check
// The Live page of a tenant: its logged-in agents (state, reason, time in state ticking
// every second, extension, services, current call), its service statistics, the health of
// each feed, and the export runs in progress, kept up to date by the live stream
// (`GET …/live/stream`, Server-Sent Events) without reloading the page.

import { paths } from './api.js';
import { formatTime, h, icon, replace, timeEl } from './dom.js';
import { streamStatus, subscribe } from './stream.js';
import { sortableTable } from './table.js';

/**
 * @typedef {import('./api.js').LiveAgent} LiveAgent
 * @typedef {import('./api.js').LiveService} LiveService
 * @typedef {import('./api.js').LiveExportRun} LiveExportRun
 * @typedef {import('./api.js').FeedHealth} FeedHealth
 * @typedef {import('./api.js').LiveSnapshot} LiveSnapshot
 * @typedef {import('./api.js').Account} Account
 * @typedef {import('./api.js').Titled} Titled
 */

/** How each feed kind is named. */
const FEED_KINDS = /** @type {Record<string, string>} */ ({
  aspect_tcp: 'WFM (Aspect RTA over TCP)',
  wfm_http: 'WFM (HTTP POST)',
  loxysoft: 'Loxysoft WFM',
  nice: 'NICE',
  statistics_receiver: 'Statistics receiver',
});

const DIRECTIONS = /** @type {Record<string, string>} */ ({ inbound: 'Inbound', outbound: 'Outbound', internal: 'Internal' });

/**
 * "0:42", "12:05", "1:02:03": how long since `iso`.
 * @param {string} iso
 */
function elapsed(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  const s = String(seconds % 60).padStart(2, '0');
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}:${s}`;
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}:${s}`;
}

/**
 * A duration that ticks (the page updates every `.ticking` element each second).
 * @param {string} since
 */
function ticking(since) {
  return h('time', { class: 'ticking', datetime: since, title: `Since ${formatTime(since)}` }, elapsed(since));
}

/** @param {number} seconds */
function waitText(seconds) {
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * What a feed's last error means, in plain words; the exact text stays under Details.
 * @param {string} error
 */
function plainError(error) {
  const http = /HTTP (\d{3})/.exec(error);
  if (/not allowed|blocked|refused to connect to|egress/i.test(error)) return 'This service is not allowed to reach the receiver’s address (its outbound policy).';
  if (/refused/i.test(error)) return 'Nothing accepts connections at the receiver’s address and port. Is the receiver running?';
  if (/does not resolve|resolves to no address|resolving/i.test(error)) return 'The receiver’s host name could not be found.';
  if (/timed out|no answer within|took no data/i.test(error)) return 'The receiver did not answer in time.';
  if (/TLS|certificate/i.test(error)) return 'A secure connection to the receiver could not be set up.';
  if (http) return `The receiver answered with an error (HTTP ${http[1]}).`;
  if (/broke|reset|closed/i.test(error)) return 'The receiver closed the connection.';
  return 'The last delivery to the receiver failed.';
}

/** @param {FeedHealth} feed */
function feedState(feed) {
  if (feed.status === 'invalid_config') return ['badge-failed', 'Settings cannot be used'];
  if (feed.status === 'starting') return ['badge-neutral', 'Starting'];
  if (feed.status === 'retrying') return ['badge-warn', 'Not delivering, retrying'];
  return feed.connected ? ['badge-ok', 'Delivering'] : ['badge-warn', 'Waiting for the next delivery'];
}

/**
 * @param {FeedHealth} feed
 * @param {Account | undefined} account
 * @param {(rest: string) => string} href
 */
function feedCard(feed, account, href) {
  const [cls, words] = feedState(feed);
  const name = account ? account.name : `Account ${feed.account_id}`;
  const failing = feed.last_error && (!feed.last_success || (feed.last_error_at || '') > feed.last_success);
  return h('article', { class: 'card feed-card', dataset: { account: feed.account_id } },
    h('div', { class: 'feed-card-head' },
      h('h3', { class: 'feed-name' }, h('a', { href: href(`/a/${encodeURIComponent(feed.account_id)}`) }, name)),
      h('span', { class: ['badge', cls, 'feed-state'] }, words)),
    h('p', { class: 'muted small feed-kind' }, FEED_KINDS[feed.kind] || feed.kind),
    h('dl', { class: 'feed-facts' },
      h('div', {}, h('dt', {}, 'Connected'), h('dd', { class: 'feed-connected' }, feed.connected ? 'Yes' : 'No')),
      h('div', {}, h('dt', {}, 'Last success'), h('dd', { class: 'feed-success' }, feed.last_success ? timeEl(feed.last_success) : 'Never yet')),
      h('div', {}, h('dt', {}, 'Records sent'), h('dd', { class: 'feed-sent' }, String(feed.sent))),
      h('div', {}, h('dt', {}, 'Failed'), h('dd', { class: 'feed-failed' }, String(feed.failed)))),
    feed.last_error ? h('div', { class: ['feed-error', failing ? 'is-current' : 'is-past'] },
      h('p', {}, icon('alert'), ' ', h('strong', {}, failing ? 'Failing: ' : 'Last error: '), h('span', { class: 'feed-error-text' }, plainError(feed.last_error)),
        feed.last_error_at ? [' ', h('span', { class: 'muted' }, '(', timeEl(feed.last_error_at), ')')] : null),
      h('details', {}, h('summary', {}, 'Details'), h('p', { class: 'small mono' }, feed.last_error))) : null);
}

/** @param {LiveExportRun} item */
function runRow(item) {
  const { run } = item;
  const done = run.exported + run.failed;
  const id = `run-${run.id}`;
  const label = `${item.job_name || 'Export job'}: ${done} of ${run.total} recordings${run.failed ? `, ${run.failed} failed` : ''}`;
  return { id, label, done, run };
}

/**
 * The Live page's content and its stream indicator. The stream closes when `signal` aborts.
 * @param {object} args
 * @param {import('./api.js').Tenant} args.tenant
 * @param {Account[]} args.accounts The tenant's accounts, to name the feeds.
 * @param {Record<string, Titled>} args.states How each agent state is named.
 * @param {(rest: string) => string} args.href A link inside the tenant.
 * @param {AbortSignal} args.signal
 */
export function liveView({ tenant, accounts, states, href, signal }) {
  /** @type {Map<string, LiveAgent>} */
  const agents = new Map();
  /** @type {Map<string, LiveService>} */
  const services = new Map();
  /** @type {FeedHealth[]} */
  let feeds = [];
  /** @type {LiveExportRun[]} */
  let runs = [];
  let received = false;
  const byId = new Map(accounts.map((a) => [a.id, a]));

  /** @param {LiveAgent} a */
  const stateTitle = (a) => states[a.state]?.title || a.state;
  const agentTable = sortableTable({
    label: 'Agents',
    tableClass: 'live-agents',
    sort: { key: 'agent', descending: false },
    rows: /** @type {LiveAgent[]} */ ([]),
    rowData: (a) => ({ agent: a.agent_id, state: a.state }),
    columns: [
      { key: 'agent', label: 'Agent', rowHeader: true, cell: (a) => a.agent_id, sortBy: (a) => a.agent_id },
      { key: 'state', label: 'State', cell: (a) => h('span', { class: ['badge', 'agent-state', `agent-state-${a.state}`] }, stateTitle(a)), sortBy: stateTitle },
      { key: 'reason', label: 'Reason', cell: (a) => a.reason || h('span', { class: 'muted' }, '—'), sortBy: (a) => a.reason },
      { key: 'time', label: 'Time in state', cell: (a) => ticking(a.since), sortBy: (a) => Date.parse(a.since) },
      { key: 'extension', label: 'Extension', cell: (a) => a.extension || h('span', { class: 'muted' }, '—'), sortBy: (a) => a.extension },
      { key: 'services', label: 'Services', cell: (a) => a.services.join(', ') || h('span', { class: 'muted' }, '—'), sortBy: (a) => a.services.join(', ') },
      {
        key: 'call',
        label: 'Current call',
        cell: (a) => (a.call
          ? h('span', { class: 'live-call', title: `Call ${a.call.call_id}` },
            [a.call.direction ? DIRECTIONS[a.call.direction] : 'Call', a.call.service ? ` on ${a.call.service}` : ''].join(''), ', ', ticking(a.call.since))
          : h('span', { class: 'muted' }, '—')),
        sortBy: (a) => (a.call ? Date.parse(a.call.since) : null),
      },
    ],
  });
  const serviceTable = sortableTable({
    label: 'Service statistics',
    tableClass: 'live-services',
    sort: { key: 'service', descending: false },
    rows: /** @type {LiveService[]} */ ([]),
    rowData: (s) => ({ service: s.service }),
    columns: [
      { key: 'service', label: 'Service', rowHeader: true, cell: (s) => s.service, sortBy: (s) => s.service },
      { key: 'waiting', label: 'Calls waiting', cell: (s) => String(s.calls_waiting), sortBy: (s) => s.calls_waiting },
      { key: 'longest', label: 'Longest wait', cell: (s) => waitText(s.longest_wait_s), sortBy: (s) => s.longest_wait_s },
      { key: 'ready', label: 'Agents ready', cell: (s) => String(s.agents_ready), sortBy: (s) => s.agents_ready },
      { key: 'busy', label: 'Agents busy', cell: (s) => String(s.agents_busy), sortBy: (s) => s.agents_busy },
      { key: 'handled', label: 'Handled', cell: (s) => String(s.handled), sortBy: (s) => s.handled },
      { key: 'abandoned', label: 'Abandoned', cell: (s) => String(s.abandoned), sortBy: (s) => s.abandoned },
      { key: 'updated', label: 'Updated', cell: (s) => timeEl(s.updated_at), sortBy: (s) => Date.parse(s.updated_at) },
    ],
  });

  const agentCount = h('span', { class: 'badge badge-neutral live-count' });
  const agentBody = h('div', { class: 'live-agents-body' });
  const serviceBody = h('div', { class: 'live-services-body' });
  const feedBody = h('div', { class: 'live-feeds-body' });
  const runBody = h('div', { class: 'live-runs-body' });
  const waiting = () => h('p', { class: 'muted' }, 'Loading…');
  replace(agentBody, waiting());

  const renderAgents = () => {
    const rows = [...agents.values()];
    replace(agentCount, `${rows.length} logged in`);
    if (rows.length === 0) {
      replace(agentBody, h('p', { class: 'empty-state' },
        'No agents logged in. Agent states arrive through the events API (',
        h('code', {}, `POST /api/v1/tenants/${tenant.id}/events`),
        ') from the contact center platform, with a token of the Event producer role; they show here as they come.'));
      return;
    }
    agentTable.update(rows);
    if (agentTable.element.parentElement !== agentBody) replace(agentBody, agentTable.element);
  };
  const renderServices = () => {
    const rows = [...services.values()];
    if (rows.length === 0) {
      replace(serviceBody, h('p', { class: 'empty-state' },
        'No service statistics yet. They arrive as service_stats events through the same events API.'));
      return;
    }
    serviceTable.update(rows);
    if (serviceTable.element.parentElement !== serviceBody) replace(serviceBody, serviceTable.element);
  };
  const renderFeeds = () => {
    if (feeds.length === 0) {
      replace(feedBody, h('p', { class: 'empty-state' },
        'No feeds. A feed runs for each enabled WFM, Loxysoft, NICE or statistics receiver account; ',
        h('a', { href: href('') }, 'add one under Integration Accounts'), '.'));
      return;
    }
    replace(feedBody, h('div', { class: 'feed-grid' }, feeds.map((f) => feedCard(f, byId.get(f.account_id), href))));
  };
  const renderRuns = () => {
    if (runs.length === 0) {
      replace(runBody, h('p', { class: 'empty-state' },
        'No export runs in progress. Runs start on their job’s schedule, or with Run now on a ',
        h('a', { href: href('/exports') }, 'recording export job'), '.'));
      return;
    }
    replace(runBody, h('ul', { class: 'live-runs' }, runs.map((item) => {
      const row = runRow(item);
      return h('li', { class: 'live-run', dataset: { run: item.run.id } },
        h('label', { for: row.id, class: 'live-run-label' },
          h('a', { href: href(`/exports/${encodeURIComponent(item.run.job_id)}`) }, item.job_name || 'Export job'),
          h('span', { class: 'muted' }, `: ${row.done} of ${item.run.total} recordings`, item.run.failed ? `, ${item.run.failed} failed` : '')),
        h('progress', { id: row.id, class: 'run-bar', max: Math.max(item.run.total, 1), value: row.done, 'aria-label': row.label }));
    })));
  };

  // Several changes in one moment render once.
  let pending = false;
  const render = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (!received) return;
      renderAgents();
      renderServices();
      renderFeeds();
      renderRuns();
    });
  };

  const status = streamStatus(() => stream.retry());
  const stream = subscribe({
    url: paths.liveStream(tenant.id),
    signal,
    onState: status.set,
    handlers: {
      snapshot: (/** @type {LiveSnapshot} */ data) => {
        received = true;
        agents.clear();
        for (const a of data.agents) agents.set(a.agent_id, a);
        services.clear();
        for (const s of data.services) services.set(s.service, s);
        feeds = data.feeds;
        runs = data.export_runs;
        render();
      },
      agent: (/** @type {LiveAgent} */ data) => { agents.set(data.agent_id, data); render(); },
      agent_removed: (/** @type {{agent_id: string}} */ data) => { agents.delete(data.agent_id); render(); },
      service: (/** @type {LiveService} */ data) => { services.set(data.service, data); render(); },
      feeds: (/** @type {{items: FeedHealth[]}} */ data) => { feeds = data.items; render(); },
      export_runs: (/** @type {{items: LiveExportRun[]}} */ data) => { runs = data.items; render(); },
    },
  });

  // Times in state tick every second, in place.
  const root = h('div', { class: 'live' },
    h('section', { class: 'card live-section', 'aria-labelledby': 'live-agents-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'live-agents-title', class: 'card-title' }, 'Agents'), agentCount),
      agentBody),
    h('section', { class: 'card live-section', 'aria-labelledby': 'live-services-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'live-services-title', class: 'card-title' }, 'Service statistics')),
      serviceBody),
    h('section', { class: 'live-section', 'aria-labelledby': 'live-feeds-title' },
      h('h2', { id: 'live-feeds-title', class: 'section-title' }, 'Feeds'),
      feedBody),
    h('section', { class: 'card live-section', 'aria-labelledby': 'live-runs-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'live-runs-title', class: 'card-title' }, 'Export runs in progress')),
      runBody));
  const timer = setInterval(() => {
    for (const el of root.querySelectorAll('time.ticking')) {
      const t = /** @type {HTMLTimeElement} */ (el);
      t.textContent = elapsed(t.dateTime);
    }
  }, 1000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  return { status: status.element, body: root };
}
