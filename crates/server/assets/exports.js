// @ts-check
// Recording export jobs: the tenant's periodic uploads of call recordings to the S3 bucket
// of an Amazon AWS integration account. The list of jobs, the job form, and a job's runs,
// which refresh every 2 seconds while one of them is running.

import { call, errorText, paths } from './api.js';
import { confirmDialog } from './dialogs.js';
import { fieldShell } from './form.js';
import { busy, formatTime, h, icon, problemBanner, replace, toast, uid } from './dom.js';

/**
 * @typedef {import('./api.js').ExportJob} ExportJob
 * @typedef {import('./api.js').ExportRun} ExportRun
 * @typedef {import('./api.js').ExportWindow} ExportWindow
 * @typedef {import('./api.js').Account} Account
 * @typedef {import('./api.js').Tenant} Tenant
 * @typedef {[string, number][]} Units Unit names and sizes, largest first.
 */

const POLL_MS = 2000;

/** @type {Record<string, [string, string]>} */
const RUN_STATES = {
  running: ['badge-info', 'Running'],
  succeeded: ['badge-ok', 'Succeeded'],
  failed: ['badge-failed', 'Failed'],
  interrupted: ['badge-warn', 'Interrupted'],
};
/** @type {Record<string, string>} */
const REASONS = { schedule: 'Scheduled', manual: 'Manual', resume: 'Resumed' };

/** @type {Units} */
const TIME_UNITS = [['days', 86400], ['hours', 3600], ['minutes', 60], ['seconds', 1]];
/** @type {Units} */
const RATE_UNITS = [['MiB/s', 1024 * 1024], ['KiB/s', 1024], ['bytes/s', 1]];

/**
 * @param {string} tenant
 * @param {string} [rest]
 */
const jobsHref = (tenant, rest = '') => `#/t/${encodeURIComponent(tenant)}/exports${rest}`;
/**
 * @param {string} tenant
 * @param {string} id
 * @param {string} [rest]
 */
export const jobHref = (tenant, id, rest = '') => jobsHref(tenant, `/${encodeURIComponent(id)}${rest}`);

/**
 * The largest unit that holds `value` whole: [number, unit name].
 * @param {number} value
 * @param {Units} units
 * @returns {[number, string]}
 */
function inUnit(value, units) {
  const [name, size] = units.find(([, s]) => value % s === 0) || units[units.length - 1];
  return [value / size, name];
}

/**
 * 5400 -> "90 minutes".
 * @param {number} seconds
 */
function duration(seconds) {
  const [n, name] = inUnit(seconds, TIME_UNITS);
  return `${n} ${n === 1 ? name.slice(0, -1) : name}`;
}

/**
 * 1536 -> "1.5 KiB".
 * @param {number} bytes
 */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return `${value >= 100 ? Math.round(value) : Number(value.toFixed(1))} ${units[i]}`;
}

/**
 * A <time> for a moment to come: "in 12 min", with the exact time as its tooltip.
 * @param {string} iso
 */
function untilEl(iso) {
  const minutes = Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  let text;
  if (Number.isNaN(minutes)) text = String(iso);
  else if (minutes < 1) text = 'within a minute';
  else if (minutes < 60) text = `in ${minutes} min`;
  else if (minutes < 24 * 60) text = `in ${Math.round(minutes / 60)} h`;
  else text = formatTime(iso);
  return h('time', { datetime: iso, title: formatTime(iso) }, text);
}

/** @param {ExportWindow | null} window */
function windowText(window) {
  return window ? `${window.start}–${window.end} UTC` : 'Any hour';
}

/** @param {ExportRun} run */
function runBadge(run) {
  const [cls, label] = RUN_STATES[run.state] || ['badge-neutral', run.state];
  return h('span', { class: ['badge', cls, 'run-state'], dataset: { state: run.state } },
    run.state === 'running' ? h('span', { class: 'pulse', 'aria-hidden': 'true' }) : null, label);
}

/**
 * "3 exported, 1 failed of 10", then the bytes or (`bar`) a bar while the run goes on.
 * @param {ExportRun} run
 * @param {{bar?: boolean}} [options]
 */
function runCounts(run, { bar } = {}) {
  return h('span', { class: 'run-counts' },
    bar && run.state === 'running'
      ? h('progress', { class: 'run-bar', max: Math.max(run.total, 1), value: run.exported + run.failed, 'aria-hidden': 'true' })
      : null,
    h('span', {},
      h('strong', {}, String(run.exported)), ' exported',
      run.failed ? [', ', h('span', { class: 'error-text' }, `${run.failed} failed`)] : null,
      ` of ${run.total}`),
    bar ? null : h('span', { class: 'muted' }, ` · ${formatBytes(run.bytes)}`));
}

/**
 * Polling: the returned `schedule(running)` calls `tick` 2 seconds later when `running`,
 * and again after each `tick` that resolves true (something still runs), for as long as
 * `element` is on the page; leaving the view or everything finishing ends it.
 * @param {Element} element
 * @param {() => Promise<boolean>} tick
 * @returns {(running: boolean) => void}
 */
function pollWhile(element, tick) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @param {boolean} again */
  const schedule = (again) => {
    clearTimeout(timer);
    timer = again ? setTimeout(async () => {
      if (element.isConnected) schedule(await tick() && element.isConnected);
    }, POLL_MS) : undefined;
  };
  return schedule;
}

// ---------------------------------------------------------------- the list

/**
 * The tenant's export jobs. `reload()` resolves with the jobs as they are now.
 * @param {object} args
 * @param {Tenant} args.tenant
 * @param {ExportJob[]} args.jobs
 * @param {Account[]} args.accounts The tenant's AWS accounts.
 * @param {boolean} args.readOnly
 * @param {() => Promise<ExportJob[]>} args.reload
 */
export function exportJobsList({ tenant, jobs, accounts, readOnly, reload }) {
  /** @param {string} id */
  const accountName = (id) => {
    const account = accounts.find((a) => a.id === id);
    return account ? account.name : 'Unknown account';
  };
  const addButton = readOnly ? null : h('a', { class: 'fab add-export-job', href: jobsHref(tenant.id, '/new') },
    icon('plus'), h('span', { class: 'fab-label' }, 'Add export job'));
  const bottom = h('div', { class: 'bottom-bar' },
    readOnly ? h('p', { class: 'muted small' }, 'Read-only access: you can view export jobs and their runs, not change or run them.') : addButton);

  if (jobs.length === 0) {
    const noAccount = accounts.length === 0;
    return h('div', { class: 'list-page' },
      h('section', { class: 'empty card' },
        h('div', { class: 'empty-icon' }, icon('upload')),
        h('h2', {}, 'No recording export jobs yet'),
        h('p', {}, 'An export job uploads the call recordings of chosen services to an Amazon S3 bucket (or S3-compatible storage) '
          + 'at a regular interval, optionally only within set hours, with a metadata CSV for every run.'),
        noAccount ? h('p', { class: 'muted' }, 'It uploads with an Amazon AWS integration account, which this contact center does not have yet: ',
          h('a', { href: `#/t/${encodeURIComponent(tenant.id)}` }, 'add one under Integration Accounts'), ' first.') : null,
        h('p', { class: 'muted' }, readOnly
          ? 'An administrator of this contact center can add them.'
          : 'Select the add “+” button at the bottom of the screen to add an export job.')),
      bottom);
  }

  const body = h('tbody');
  /** @param {ExportJob[]} list */
  const render = (list) => replace(body, [...list].sort((a, b) => a.name.localeCompare(b.name)).map((job) => h('tr', { class: 'job-row', dataset: { id: job.id } },
    h('td', { class: 'col-name' }, h('a', { class: 'job-link', href: jobHref(tenant.id, job.id) }, job.name)),
    h('td', { class: 'col-account' }, accountName(job.account_id)),
    h('td', { class: 'col-services' }, job.services.slice(0, 3).map((s) => h('span', { class: 'chip' }, s)),
      job.services.length > 3 ? h('span', { class: 'muted small' }, ` +${job.services.length - 3} more`) : null),
    h('td', { class: 'col-schedule' }, h('span', { class: 'nowrap' }, `Every ${duration(job.interval_seconds)}`),
      h('span', { class: 'muted small block' }, windowText(job.window))),
    h('td', { class: 'col-state' }, job.enabled ? h('span', { class: 'badge badge-ok-soft' }, 'Enabled') : h('span', { class: 'badge badge-warn' }, 'Disabled')),
    h('td', { class: 'col-last-run' }, job.last_run
      ? [runBadge(job.last_run), h('span', { class: 'small block' }, runCounts(job.last_run)),
        h('span', { class: 'muted small block' }, 'Started ', h('time', { datetime: job.last_run.started_at }, formatTime(job.last_run.started_at)))]
      : h('span', { class: 'muted' }, 'Never run')),
    h('td', { class: 'col-next-run' }, job.enabled && job.next_run_at ? untilEl(job.next_run_at) : h('span', { class: 'muted' }, '—')))));
  /** @param {ExportJob[]} list */
  const running = (list) => list.some((j) => j.last_run && j.last_run.state === 'running');
  const table = h('table', { class: 'table jobs-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-name' }, 'Name'),
      h('th', { scope: 'col', class: 'col-account' }, 'AWS account'),
      h('th', { scope: 'col', class: 'col-services' }, 'Services'),
      h('th', { scope: 'col', class: 'col-schedule' }, 'Schedule'),
      h('th', { scope: 'col', class: 'col-state' }, 'State'),
      h('th', { scope: 'col', class: 'col-last-run' }, 'Last run'),
      h('th', { scope: 'col', class: 'col-next-run' }, 'Next run'))),
    body);
  const schedule = pollWhile(table, async () => {
    try {
      const fresh = await reload();
      render(fresh);
      return running(fresh);
    } catch {
      return true;
    }
  });
  render(jobs);
  schedule(running(jobs));

  return h('div', { class: 'list-page' },
    h('div', { class: 'toolbar' },
      h('p', { class: 'toolbar-summary muted' }, `${jobs.length} ${jobs.length === 1 ? 'export job' : 'export jobs'}`)),
    h('section', { class: 'card list-card', 'aria-label': 'Recording export jobs' }, table), bottom);
}

// ---------------------------------------------------------------- runs

/**
 * A reason as a sentence: "the bucket … does not exist" -> "The bucket … does not exist."
 * @param {string} text
 */
function sentence(text) {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * A job's runs, newest first, with Run now for administrators. A run that could not export
 * some recordings lists them with the reason in words and what to do about it (the failure
 * category's advice), and links the job's AWS account, whose test checks the bucket.
 * @param {object} args
 * @param {string} args.tenant
 * @param {ExportJob} args.job
 * @param {Account | undefined} args.account The job's AWS account, when it still exists.
 * @param {Record<string, import('./api.js').Titled>} args.categories How each failure category is named and what it advises.
 * @param {boolean} args.readOnly
 */
export function runsPanel({ tenant, job, account, categories, readOnly }) {
  const body = h('tbody');
  const table = h('table', { class: 'table runs-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'Progress'),
      h('th', { scope: 'col' }, 'Uploaded'),
      h('th', { scope: 'col' }, 'Started'),
      h('th', { scope: 'col' }, 'Finished'),
      h('th', { scope: 'col' }, 'Error'),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Metadata')))),
    body);
  const scroller = h('div', { class: 'table-scroll', role: 'region', 'aria-label': 'Runs', tabindex: '0', hidden: true }, table);
  const status = h('p', { class: 'muted loading runs-status' }, 'Loading runs…');
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  const live = h('p', { class: 'muted small runs-live', hidden: true }, 'A run is in progress: its progress updates every 2 seconds.');
  /**
   * @param {string} title
   * @param {string} message
   */
  const showProblem = (title, message) => {
    replace(banner, problemBanner(title, [message]));
    banner.focus();
  };

  /**
   * Downloads the CSV through fetch, so that a missing file shows the server's reason.
   * @param {MouseEvent} event
   */
  const download = async (event) => {
    event.preventDefault();
    const link = /** @type {HTMLAnchorElement} */ (event.currentTarget);
    link.classList.add('is-busy');
    try {
      const response = await fetch(link.href, { credentials: 'same-origin', cache: 'no-store' });
      if (response.status === 401) {
        window.dispatchEvent(new CustomEvent('patchbay:signed-out'));
        return;
      }
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        showProblem('The metadata file could not be downloaded.', problem.detail || `The server answered ${response.status}.`);
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      const save = h('a', { href: url, download: link.getAttribute('download'), hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      showProblem('The metadata file could not be downloaded.', `The server could not be reached (${errorText(e)}).`);
    } finally {
      link.classList.remove('is-busy');
    }
  };

  /** The runs whose failed recordings are shown; the newest run's, once it ended with failures. */
  const open = new Set();
  /** @type {string | null} */
  let opened = null;
  /** @type {Map<string, Promise<import('./api.js').Reply>>} */
  const failures = new Map();
  const accountHref = `#/t/${encodeURIComponent(tenant)}/a/${encodeURIComponent(job.account_id)}`;

  /**
   * The failed recordings of a run, read once.
   * @param {ExportRun} run
   */
  const failuresOf = (run) => {
    let reply = failures.get(run.id);
    if (!reply) {
      reply = call('GET', paths.exportRunFailures(tenant, job.id, run.id));
      failures.set(run.id, reply);
    }
    return reply;
  };

  /**
   * The row under a run that lists its failed recordings.
   * @param {ExportRun} run
   */
  const failuresRow = (run) => {
    const cell = h('td', { colspan: 7, class: 'run-failures' }, h('p', { class: 'muted loading' }, 'Loading the failed recordings…'));
    failuresOf(run).then((reply) => {
      if (!reply.ok) {
        replace(cell, h('p', { class: 'error-text' }, `The failed recordings could not be loaded: ${reply.message}`));
        return;
      }
      /** @type {import('./api.js').ExportFailure[]} */
      const items = reply.body.items;
      const check = h('p', { class: 'run-failures-check' },
        account
          ? ['Check the AWS account ', h('a', { class: 'run-account-link', href: accountHref }, `“${account.name}”`), ' and run its connection test: it tries the same bucket with the same credentials.']
          : 'The job’s AWS account no longer exists: choose another one in the job’s settings.');
      if (!items.length) {
        replace(cell, h('p', { class: 'muted' }, 'A later run tried these recordings again: see the newer runs.'), check);
        return;
      }
      replace(cell,
        h('h3', { class: 'run-failures-title', id: `failures-${run.id}` }, `Recordings not exported (${items.length}${reply.body.more ? '+' : ''})`),
        h('ul', { class: 'run-failures-list', 'aria-labelledby': `failures-${run.id}` }, items.map((f) => {
          const category = f.category ? categories[f.category] : null;
          return h('li', { class: 'run-failure', dataset: { recording: f.recording_id, category: f.category || '' } },
            h('div', { class: 'run-failure-head' },
              h('span', { class: 'badge badge-failed' }, category ? category.title : 'Problem on this server'),
              h('strong', { class: 'mono' }, f.recording_id),
              h('span', { class: 'muted small' }, `${f.service} · call of `, h('time', { datetime: f.call_started_at }, formatTime(f.call_started_at)),
                ` · ${f.attempts === 1 ? '1 attempt' : `${f.attempts} attempts`}`)),
            h('p', { class: 'run-failure-error' }, sentence(f.error)),
            category ? h('p', { class: 'muted small run-failure-advice' }, category.description) : null);
        })),
        reply.body.more ? h('p', { class: 'muted small' }, 'Only the first 100 are listed; the metadata file (CSV) lists every recording of the run.') : null,
        check);
    });
    return h('tr', { class: 'run-failures-row', dataset: { run: run.id } }, cell);
  };

  /** @param {ExportRun} run */
  const failedToggle = (run) => {
    if (!run.finished_at || run.failed === 0) return null;
    const shown = open.has(run.id);
    const button = h('button', { type: 'button', class: 'btn btn-link btn-small show-failures', 'aria-expanded': shown ? 'true' : 'false' },
      shown ? 'Hide the failed recordings' : `Why ${run.failed === 1 ? '1 recording' : `${run.failed} recordings`} failed`);
    button.addEventListener('click', () => {
      if (open.has(run.id)) open.delete(run.id);
      else open.add(run.id);
      const tr = /** @type {HTMLElement} */ (button.closest('tr'));
      const next = tr.nextElementSibling;
      if (next && next.classList.contains('run-failures-row')) next.remove();
      if (open.has(run.id)) tr.after(failuresRow(run));
      button.setAttribute('aria-expanded', open.has(run.id) ? 'true' : 'false');
      button.textContent = open.has(run.id) ? 'Hide the failed recordings' : `Why ${run.failed === 1 ? '1 recording' : `${run.failed} recordings`} failed`;
    });
    return button;
  };

  /** @param {ExportRun} run */
  const row = (run) => h('tr', { class: 'run-row', dataset: { id: run.id, state: run.state } },
    h('td', { class: 'col-run-state' }, runBadge(run), h('span', { class: 'muted small block', title: `Node ${run.node}` }, REASONS[run.reason] || run.reason)),
    h('td', { class: 'col-progress' }, runCounts(run, { bar: true })),
    h('td', { class: 'col-bytes nowrap' }, formatBytes(run.bytes)),
    h('td', { class: 'col-time' }, h('time', { datetime: run.started_at }, formatTime(run.started_at))),
    h('td', { class: 'col-time' }, run.finished_at
      ? [h('time', { datetime: run.finished_at }, formatTime(run.finished_at)),
        h('span', { class: 'muted small block' }, `took ${duration(Math.max(1, Math.round((new Date(run.finished_at).getTime() - new Date(run.started_at).getTime()) / 1000)))}`)]
      : h('span', { class: 'muted' }, 'In progress')),
    h('td', { class: 'col-error' },
      run.error ? h('span', { class: 'error-text run-error' }, sentence(run.error)) : h('span', { class: 'muted' }, '—'),
      run.error && run.failed === 0 && run.state === 'failed'
        ? h('span', { class: 'small block' }, account ? ['Check the AWS account ', h('a', { class: 'run-account-link', href: accountHref }, `“${account.name}”`), ' and run its connection test.'] : null)
        : null,
      failedToggle(run)),
    h('td', { class: 'col-metadata' }, run.finished_at ? h('a', {
      class: 'btn btn-secondary btn-small metadata-link',
      href: paths.exportMetadata(tenant, job.id, run.id),
      download: `patchbay-export_${run.id}.csv`,
      onclick: download,
    }, icon('download'), 'CSV', h('span', { class: 'sr-only' }, ` of the run started ${formatTime(run.started_at)}`)) : null));

  /** Reads the runs and shows them; resolves true while one is running. */
  const load = async () => {
    const reply = await call('GET', `${paths.exportRuns(tenant, job.id)}?limit=50`);
    if (!reply.ok) {
      status.hidden = false;
      status.className = 'error-text runs-status';
      replace(status, `The runs could not be loaded: ${reply.message}`);
      return true;
    }
    /** @type {ExportRun[]} */
    const runs = reply.body.items;
    const newest = runs[0];
    if (newest && newest.finished_at && newest.failed > 0 && newest.id !== opened) {
      open.add(newest.id);
      opened = newest.id;
    }
    replace(body, runs.map((run) => [row(run), open.has(run.id) && run.finished_at && run.failed > 0 ? failuresRow(run) : null]));
    scroller.hidden = runs.length === 0;
    status.className = 'muted runs-status';
    status.hidden = runs.length > 0;
    replace(status, `No runs yet: the job runs on its schedule${readOnly ? '.' : ', or when you select Run now.'}`);
    const running = runs.some((r) => r.state === 'running');
    live.hidden = !running;
    return running;
  };
  const schedule = pollWhile(table, load);

  const runButton = readOnly ? null : h('button', { type: 'button', class: 'btn btn-primary run-now' }, icon('play'), 'Run now');
  if (runButton) {
    runButton.addEventListener('click', async () => {
      replace(banner);
      busy(runButton, true);
      const reply = await call('POST', paths.exportRunNow(tenant, job.id), { body: {} });
      busy(runButton, false);
      if (!reply.ok) {
        showProblem(reply.status === 409 ? 'A run is already in progress.' : 'The run did not start.', reply.message);
        return;
      }
      toast('The export run started.');
      schedule(await load());
    });
  }
  load().then(schedule);

  return h('section', { class: 'runs', 'aria-label': 'Runs' },
    h('div', { class: 'runs-toolbar' },
      h('p', { class: 'muted' }, job.enabled
        ? ['Runs every ', duration(job.interval_seconds), job.window ? `, ${windowText(job.window)}` : '', '. Next run ', job.next_run_at ? untilEl(job.next_run_at) : 'not scheduled', '.']
        : 'Disabled: the job does not run on its schedule.'),
      h('span', { class: 'spacer' }),
      runButton),
    banner, live,
    h('div', { class: 'card list-card runs-card' }, scroller, status));
}

// ---------------------------------------------------------------- the form

/**
 * A whole number of `unit`s typed into `input`, as a count of base units; NaN when it is not a number.
 * @param {HTMLInputElement} input
 * @param {HTMLSelectElement} unitSelect
 * @param {Units} units
 */
function scaled(input, unitSelect, units) {
  const text = input.value.trim();
  const unit = units.find(([name]) => name === unitSelect.value);
  if (!unit || !/^\d+(\.\d+)?$/.test(text)) return Number.NaN;
  return Math.round(Number(text) * unit[1]);
}

/**
 * A choice of unit, with its (visually hidden) label.
 * @param {string} id
 * @param {Units} units
 * @param {string} selected
 * @param {boolean} disabled
 * @param {string} label
 * @returns {[HTMLLabelElement, HTMLSelectElement]}
 */
function unitSelect(id, units, selected, disabled, label) {
  const select = h('select', { id, class: 'input input-unit', disabled }, units.map(([name]) => h('option', { value: name }, name)));
  select.value = selected;
  return [h('label', { for: id, class: 'sr-only' }, label), select];
}

/**
 * A setting's descriptor from the API's description of the job settings.
 * @param {import('./api.js').ExportJobSettings} settings
 * @param {string} key
 */
function described(settings, key) {
  const field = settings.fields.find((f) => f.key === key);
  if (!field) throw new Error(`The server does not describe the export job setting ${key}.`);
  return field;
}

/**
 * An integer setting's descriptor with its range and default.
 * @param {import('./api.js').ExportJobSettings} settings
 * @param {string} key
 */
function describedInteger(settings, key) {
  const field = described(settings, key);
  if (field.kind !== 'integer') throw new Error(`The export job setting ${key} is not a number.`);
  return field;
}

/**
 * @typedef {object} JobField Where the errors of one job field show.
 * @property {HTMLElement} el
 * @property {(message: string, sub?: string) => void} show `sub` is the part of the field (`window.start`).
 * @property {() => void} clear
 * @property {() => void} focus
 */

/**
 * The form for a new job (`job` null) or an existing one.
 * @param {object} ctx
 * @param {Tenant} ctx.tenant
 * @param {ExportJob | null} ctx.job
 * @param {Account[]} ctx.accounts The tenant's AWS accounts.
 * @param {boolean} ctx.readOnly
 * @param {import('./api.js').ExportJobSettings} ctx.settings How the API describes the settings.
 * @param {(saved: ExportJob) => void} ctx.onSaved
 * @param {() => void} [ctx.onDeleted] For an existing job.
 * @param {() => void} [ctx.onReload] For an existing job.
 * @param {(what: () => string | null) => void} [ctx.guardLeaving] Told what unsaved edits leaving would lose.
 */
export function exportJobForm(ctx) {
  const { tenant, job, accounts, readOnly, settings } = ctx;
  const formId = uid('job-form');
  const prefixField = described(settings, 'key_prefix');
  const templateField = described(settings, 'filename_template');
  const intervalField = describedInteger(settings, 'interval_seconds');
  const rateField = describedInteger(settings, 'bandwidth_limit_bytes_per_second');
  const concurrencyField = describedInteger(settings, 'concurrency');
  const deleteLocalField = described(settings, 'delete_local_after_export');
  /** @type {Record<string, JobField>} */
  const fields = {};

  /**
   * One field: its shell, the input that errors point at, and the input focused on error.
   * @param {string} key
   * @param {import('./form.js').Shell} shell
   * @param {HTMLElement} input
   */
  const field = (key, shell, input) => {
    fields[key] = {
      el: shell.el,
      show: (message) => shell.setError(message, input),
      clear: () => shell.setError(null, input),
      focus: () => input.focus(),
    };
    shell.describe(input);
    return shell.el;
  };

  // General.
  const nameInput = h('input', { type: 'text', id: 'job-name', class: 'input', maxlength: 100, value: job ? job.name : '', disabled: readOnly, autocomplete: 'off', spellcheck: 'false' });
  const nameShell = fieldShell({ key: 'name', label: 'Name', help: 'A unique name for this export job.' }, 'job-name', nameInput);
  nameShell.setRequired(true);

  const accountSelect = h('select', { id: 'job-account', class: 'input', disabled: readOnly },
    h('option', { value: '' }, accounts.length ? '— Choose an account —' : '— No Amazon AWS account —'),
    accounts.map((a) => h('option', { value: a.id }, a.enabled ? a.name : `${a.name} (disabled)`)));
  if (job && !accounts.some((a) => a.id === job.account_id)) accountSelect.append(h('option', { value: job.account_id }, 'Unknown account'));
  accountSelect.value = job ? job.account_id : (accounts.length === 1 ? accounts[0].id : '');
  const accountHelp = ['The Amazon AWS (or S3-compatible) integration account whose bucket receives the recordings.',
    accounts.length ? '' : [' This contact center has none yet: ', h('a', { href: `#/t/${encodeURIComponent(tenant.id)}` }, 'add one under Integration Accounts'), '.']];
  const accountShell = fieldShell({ key: 'account_id', label: 'AWS account', help: accountHelp }, 'job-account', accountSelect);
  accountShell.setRequired(true);

  const enabledInput = h('input', { type: 'checkbox', id: 'job-enabled', class: 'checkbox', checked: job ? job.enabled : true, disabled: readOnly });
  const enabledShell = fieldShell({ key: 'enabled', label: 'Enabled', help: 'A disabled job does not run on its schedule; it can still be run now.' }, 'job-enabled', enabledInput, { inline: true });

  const servicesInput = h('textarea', { id: 'job-services', class: 'input services-input', rows: 3, value: job ? job.services.join('\n') : '', disabled: readOnly, spellcheck: 'false', placeholder: readOnly ? '' : 'e.g. Sales, one service per line' });
  const servicesShell = fieldShell({ key: 'services', label: 'Services', help: 'The recordings of these services are exported (exact service names): one per line, or separated by commas.' }, 'job-services', servicesInput);
  servicesShell.setRequired(true);
  const services = () => servicesInput.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

  // Where the files go.
  const prefixInput = h('input', { type: 'text', id: 'job-key_prefix', class: 'input mono', value: job ? job.key_prefix : '', disabled: readOnly, autocomplete: 'off', spellcheck: 'false', placeholder: readOnly ? '' : 'e.g. recordings/acme/' });
  const prefixShell = fieldShell(prefixField, 'job-key_prefix', prefixInput);

  const templateInput = h('input', { type: 'text', id: 'job-filename_template', class: 'input mono', value: job ? job.filename_template : String(templateField.default), disabled: readOnly, autocomplete: 'off', spellcheck: 'false' });
  const example = h('p', { class: 'key-example small' });
  const showExample = () => {
    const rendered = templateInput.value.trim().replace(/\$\((\w+)\)/g, (whole, name) => {
      const token = settings.tokens.find((t) => t.name === name);
      return token ? token.example : whole;
    });
    replace(example, h('span', { class: 'muted' }, 'Example key: '), h('code', {}, `${prefixInput.value.trim()}${rendered}_<recording id>.<extension>`));
  };
  /** @param {string} name */
  const insertToken = (name) => {
    const text = `$(${name})`;
    const start = templateInput.selectionStart ?? templateInput.value.length;
    const end = templateInput.selectionEnd ?? start;
    templateInput.setRangeText(text, start, end, 'end');
    templateInput.focus();
    showExample();
  };
  const tokenList = h('ul', { class: 'token-list', 'aria-label': 'Template tokens' }, settings.tokens.map(({ name, meaning }) => h('li', {},
    readOnly
      ? h('code', { class: 'token' }, `$(${name})`)
      : h('button', { type: 'button', class: 'token', dataset: { token: name }, title: `Insert $(${name})`, onclick: () => insertToken(name) }, `$(${name})`),
    h('span', { class: 'token-meaning' }, meaning))));
  const templateShell = fieldShell({ ...templateField, help: [templateField.help, ' ', readOnly ? 'Tokens:' : 'Select a token to insert it:'] },
    'job-filename_template', templateInput);
  templateShell.el.append(tokenList, example);
  prefixInput.addEventListener('input', showExample);
  templateInput.addEventListener('input', showExample);
  showExample();

  // When.
  const [intervalValue, intervalUnit] = inUnit(job ? job.interval_seconds : Number(intervalField.default), TIME_UNITS);
  const intervalInput = h('input', { type: 'number', id: 'job-interval', class: 'input input-number', min: 1, step: 'any', inputmode: 'decimal', value: String(intervalValue), disabled: readOnly });
  const intervalUnitSelect = unitSelect('job-interval-unit', TIME_UNITS, intervalUnit, readOnly, 'Interval unit');
  const intervalShell = fieldShell(intervalField, 'job-interval',
    h('div', { class: 'with-unit' }, intervalInput, intervalUnitSelect));
  intervalShell.setRequired(true);

  const windowName = uid('window');
  const anyRadio = h('input', { type: 'radio', name: windowName, id: 'job-window-any', class: 'radio', value: 'any', checked: !(job && job.window), disabled: readOnly });
  const betweenRadio = h('input', { type: 'radio', name: windowName, id: 'job-window-between', class: 'radio', value: 'between', checked: Boolean(job && job.window), disabled: readOnly });
  const startInput = h('input', { type: 'time', id: 'job-window-start', class: 'input input-time', value: job && job.window ? job.window.start : '22:00' });
  const endInput = h('input', { type: 'time', id: 'job-window-end', class: 'input input-time', value: job && job.window ? job.window.end : '06:00' });
  const windowError = h('p', { class: 'field-error', id: 'job-window-error', role: 'alert', hidden: true });
  const windowHelp = h('p', { class: 'field-help', id: 'job-window-help' },
    'Runs upload only within these hours; a run still going when they end continues in the next window. An end earlier than the start spans midnight.');
  const syncWindow = () => {
    startInput.disabled = readOnly || !betweenRadio.checked;
    endInput.disabled = readOnly || !betweenRadio.checked;
  };
  anyRadio.addEventListener('change', syncWindow);
  betweenRadio.addEventListener('change', syncWindow);
  syncWindow();
  const windowEl = h('fieldset', { class: 'field field-window', dataset: { field: 'window' }, 'aria-describedby': windowHelp.id },
    h('legend', { class: 'field-label' }, 'Export hours (UTC)'),
    h('div', { class: 'choice-row' }, anyRadio, h('label', { for: anyRadio.id }, 'Any hour')),
    h('div', { class: 'choice-row' }, betweenRadio, h('label', { for: betweenRadio.id }, 'Only from'),
      h('label', { for: startInput.id, class: 'sr-only' }, 'Window start (UTC)'), startInput,
      h('span', { 'aria-hidden': 'true' }, 'to'),
      h('label', { for: endInput.id, class: 'sr-only' }, 'Window end (UTC)'), endInput,
      h('span', { class: 'muted small' }, 'UTC')),
    windowHelp, windowError);
  /** Errors name `window`, `window.start` or `window.end`. */
  fields.window = {
    el: windowEl,
    show(message, sub) {
      windowError.textContent = windowError.hidden ? message : `${windowError.textContent} ${message}`;
      windowError.hidden = false;
      windowEl.classList.add('has-error');
      const target = sub === 'end' ? endInput : sub === 'start' ? startInput : null;
      if (target) {
        target.setAttribute('aria-invalid', 'true');
        target.setAttribute('aria-describedby', windowError.id);
      }
    },
    clear() {
      windowError.hidden = true;
      windowError.textContent = '';
      windowEl.classList.remove('has-error');
      for (const input of [startInput, endInput]) {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
      }
    },
    focus: () => (betweenRadio.checked ? startInput : anyRadio).focus(),
  };

  // How.
  const [rateValue, rateUnit] = job && job.bandwidth_limit_bytes_per_second ? inUnit(job.bandwidth_limit_bytes_per_second, RATE_UNITS) : ['', 'MiB/s'];
  const rateInput = h('input', { type: 'number', id: 'job-bandwidth', class: 'input input-number', min: 0, step: 'any', inputmode: 'decimal', value: String(rateValue), disabled: readOnly, placeholder: 'No limit' });
  const rateUnitSelect = unitSelect('job-bandwidth-unit', RATE_UNITS, rateUnit, readOnly, 'Bandwidth limit unit');
  const rateShell = fieldShell(rateField, 'job-bandwidth',
    h('div', { class: 'with-unit' }, rateInput, rateUnitSelect));

  const concurrencyInput = h('input', {
    type: 'number', id: 'job-concurrency', class: 'input input-number', min: concurrencyField.min, max: concurrencyField.max, step: 1,
    inputmode: 'numeric', value: String(job ? job.concurrency : concurrencyField.default), disabled: readOnly,
  });
  const concurrencyShell = fieldShell(concurrencyField, 'job-concurrency', concurrencyInput);
  concurrencyShell.setRequired(true);

  const deleteLocalInput = h('input', {
    type: 'checkbox', id: 'job-delete_local', class: 'checkbox', checked: job ? job.delete_local_after_export : deleteLocalField.default === true, disabled: readOnly,
  });
  const deleteLocalShell = fieldShell(deleteLocalField, 'job-delete_local', deleteLocalInput, { inline: true });

  const generalCard = h('section', { class: 'card', 'aria-labelledby': `${formId}-general` },
    h('h2', { class: 'card-title', id: `${formId}-general` }, 'General'),
    field('name', nameShell, nameInput),
    field('account_id', accountShell, accountSelect),
    field('services', servicesShell, servicesInput),
    field('enabled', enabledShell, enabledInput));
  const keysCard = h('section', { class: 'card', 'aria-labelledby': `${formId}-keys` },
    h('h2', { class: 'card-title', id: `${formId}-keys` }, 'Object keys'),
    field('key_prefix', prefixShell, prefixInput),
    field('filename_template', templateShell, templateInput));
  const scheduleCard = h('section', { class: 'card', 'aria-labelledby': `${formId}-schedule` },
    h('h2', { class: 'card-title', id: `${formId}-schedule` }, 'Schedule'),
    field('interval_seconds', intervalShell, intervalInput),
    windowEl);
  const uploadCard = h('section', { class: 'card', 'aria-labelledby': `${formId}-upload` },
    h('h2', { class: 'card-title', id: `${formId}-upload` }, 'Upload'),
    field('bandwidth_limit_bytes_per_second', rateShell, rateInput),
    field('concurrency', concurrencyShell, concurrencyInput),
    field('delete_local_after_export', deleteLocalShell, deleteLocalInput));

  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  const clearErrors = () => {
    replace(banner);
    for (const f of Object.values(fields)) f.clear();
  };

  /** The body for POST or PUT, and the problems found before sending it. */
  const collect = () => {
    const local = [];
    const interval = scaled(intervalInput, intervalUnitSelect[1], TIME_UNITS);
    if (Number.isNaN(interval)) local.push(['interval_seconds', 'Enter a number.']);
    let bandwidth = null;
    if (rateInput.value.trim() !== '') {
      bandwidth = scaled(rateInput, rateUnitSelect[1], RATE_UNITS);
      if (Number.isNaN(bandwidth)) local.push(['bandwidth_limit_bytes_per_second', 'Enter a number, or leave it empty for no limit.']);
    }
    const concurrencyText = concurrencyInput.value.trim();
    return {
      local,
      body: {
        name: nameInput.value.trim(),
        account_id: accountSelect.value || null,
        enabled: enabledInput.checked,
        services: services(),
        key_prefix: prefixInput.value.trim(),
        filename_template: templateInput.value.trim(),
        interval_seconds: interval,
        window: betweenRadio.checked ? { start: startInput.value, end: endInput.value } : null,
        bandwidth_limit_bytes_per_second: bandwidth,
        delete_local_after_export: deleteLocalInput.checked,
        concurrency: /^\d+$/.test(concurrencyText) ? Number(concurrencyText) : concurrencyText,
      },
    };
  };

  /**
   * Messages in the user's units where the API's name the base unit.
   * @param {import('./api.js').FieldError} e
   */
  const friendly = (e) => {
    if (e.field === intervalField.key && e.rule === 'range') {
      const { min, max } = intervalField;
      return `${intervalField.label} ${duration(min)} to ${duration(max)} (${min.toLocaleString('en')} to ${max.toLocaleString('en')} seconds).`;
    }
    if (e.field === rateField.key && e.rule === 'range') {
      const [n, unit] = inUnit(rateField.min, RATE_UNITS);
      return `The limit must be at least ${n} ${unit} (${rateField.min} bytes per second).`;
    }
    return e.message;
  };

  /**
   * Puts each error next to its field; returns the messages that belong to no field.
   * @param {import('./api.js').FieldError[]} errors
   * @param {{services: string[]}} sent
   */
  const showErrors = (errors, sent) => {
    const loose = [];
    let first = null;
    for (const e of errors) {
      const m = /^(\w+)(?:\[(\d+)\]|\.(\w+))?$/.exec(e.field || '');
      const target = m && fields[m[1]];
      if (!target) {
        loose.push(e.message);
        continue;
      }
      const service = m[2] !== undefined ? sent.services[Number(m[2])] : undefined;
      target.show(service !== undefined ? `“${service}”: ${e.message}` : friendly(e), m[3]);
      first = first || target;
    }
    return { loose, first };
  };

  /**
   * @param {number} current
   * @param {ExportJob} opened
   * @param {'save' | 'delete'} attempt What the refused request tried to do.
   */
  const staleBanner = (current, opened, attempt) => h('div', { class: 'banner banner-stale', role: 'alert' }, icon('alert'),
    h('div', {},
      h('strong', {}, 'Someone else changed this export job after you opened it.'),
      h('p', {}, (attempt === 'delete'
        ? `The job was not deleted. It is now at version ${current}; you opened version ${opened.version}. Reload to see the current settings, then decide again whether to delete it.`
        : `Your changes were not saved and nothing was overwritten. The job is now at version ${current}; you opened version ${opened.version}. `
          + 'Reload to see the current settings, then apply your change again.')),
      h('div', { class: 'banner-actions' },
        h('button', { type: 'button', class: 'btn btn-primary btn-small reload', onclick: () => ctx.onReload && ctx.onReload() }, icon('refresh'), 'Reload the job'),
        h('span', { class: 'muted small' }, 'Reloading discards the changes in this form.'))));

  /** Saved or deleted: nothing is left to lose by leaving. */
  let settled = false;
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary save' }, job ? 'Save changes' : 'Create export job');
  const deleteBtn = job ? h('button', { type: 'button', class: 'btn btn-danger-outline delete' }, icon('trash'), 'Delete') : null;

  /** @param {Event} event */
  const save = async (event) => {
    event.preventDefault();
    if (readOnly) return;
    clearErrors();
    const { local, body } = collect();
    if (local.length) {
      for (const [key, message] of local) fields[key].show(message);
      replace(banner, problemBanner('The export job was not saved.', ['Fix the fields marked below, then save again.']));
      fields[local[0][0]].focus();
      return;
    }
    busy(saveBtn, true);
    const reply = job
      ? await call('PUT', paths.exportJob(tenant.id, job.id), { body, ifMatch: job.version })
      : await call('POST', paths.exportJobs(tenant.id), { body });
    busy(saveBtn, false);
    if (reply.ok) {
      settled = true;
      toast(job ? 'Changes saved.' : 'Export job created.');
      ctx.onSaved(reply.body);
      return;
    }
    if (reply.status === 412 && job) {
      replace(banner, staleBanner(reply.body && reply.body.current_version, job, 'save'));
      banner.focus();
      return;
    }
    const { loose, first } = showErrors(reply.errors, body);
    const count = reply.errors.length;
    const title = reply.status === 403 ? 'You may not change export jobs.'
      : count ? `The export job was not saved: ${count === 1 ? '1 problem' : `${count} problems`}.` : 'The export job was not saved.';
    const messages = loose.length ? loose : count ? ['Each problem is shown next to its field.'] : [reply.message];
    replace(banner, problemBanner(title, messages));
    if (first) first.focus();
    else banner.focus();
  };

  if (deleteBtn && job) {
    deleteBtn.addEventListener('click', async () => {
      const yes = await confirmDialog({
        title: 'Delete export job',
        message: `Delete “${job.name}”?`,
        detail: 'The job and its run history are removed; a run in progress stops. Files already uploaded stay in the bucket. This cannot be undone.',
        confirmLabel: 'Delete export job',
        danger: true,
      });
      if (!yes) return;
      busy(deleteBtn, true);
      const reply = await call('DELETE', paths.exportJob(tenant.id, job.id), { ifMatch: job.version });
      busy(deleteBtn, false);
      if (reply.ok) {
        settled = true;
        toast(`“${job.name}” was deleted.`);
        if (ctx.onDeleted) ctx.onDeleted();
      } else if (reply.status === 412) {
        replace(banner, staleBanner(reply.body && reply.body.current_version, job, 'delete'));
        banner.focus();
      } else {
        replace(banner, problemBanner('The export job was not deleted.', [reply.message]));
        banner.focus();
      }
    });
  }

  const meta = job
    ? h('dl', { class: 'meta' },
      h('dt', {}, 'Created'), h('dd', { title: job.created_by }, formatTime(job.created_at)),
      h('dt', {}, 'Last changed'), h('dd', { title: job.updated_by }, formatTime(job.updated_at)),
      h('dt', {}, 'Version'), h('dd', { class: 'version' }, String(job.version)))
    : h('p', { class: 'muted small' }, 'Not saved yet.');
  const footer = readOnly
    ? h('div', { class: 'form-footer' }, h('a', { class: 'btn btn-secondary', href: jobsHref(tenant.id) }, 'Back to the list'))
    : h('div', { class: 'form-footer' },
      saveBtn,
      h('a', { class: 'btn btn-secondary cancel', href: job ? jobHref(tenant.id, job.id) : jobsHref(tenant.id) }, 'Cancel'),
      h('span', { class: 'spacer' }),
      deleteBtn);

  const form = h('form', { class: 'job-form', id: formId, novalidate: true, 'aria-label': job ? `Edit ${job.name}` : 'New export job' },
    banner,
    h('div', { class: 'form-layout' },
      h('div', { class: 'form-main' }, generalCard, keysCard, scheduleCard, uploadCard),
      h('aside', { class: 'form-side' }, h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Details'), meta))),
    footer);
  form.addEventListener('submit', save);
  // Leaving with unsaved edits asks first (see app.js); a save or delete settles the form.
  const initial = JSON.stringify(collect().body);
  if (!readOnly && ctx.guardLeaving) {
    ctx.guardLeaving(() => (!settled && JSON.stringify(collect().body) !== initial ? (job ? `“${job.name}”` : 'the new export job') : null));
  }
  return form;
}
