// The JSON API, called with the session cookie. Every write carries the session's CSRF
// token; a 401 means the session ended (signed out elsewhere, expired, token revoked).

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token;
}

/** What the server answered: status, parsed body (JSON or problem+json), ETag. */
class Reply {
  constructor(status, body, etag) {
    this.status = status;
    this.body = body;
    this.etag = etag;
  }

  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /** The problem's `errors` ([{field, rule, message}]), empty when there are none. */
  get errors() {
    return (this.body && Array.isArray(this.body.errors)) ? this.body.errors : [];
  }

  /** A sentence for the user. */
  get message() {
    if (this.status === 0) return this.body.detail;
    const b = this.body || {};
    return b.detail || b.message || b.title || `The server answered ${this.status}.`;
  }
}

export async function call(method, path, options = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (options.ifMatch !== undefined) headers['If-Match'] = `"${options.ifMatch}"`;
  let body;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    return new Reply(0, { detail: `The server could not be reached (${e.message}). Check your connection and try again.` }, null);
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: `The server answered ${response.status} with a body that is not JSON.` };
    }
  }
  const reply = new Reply(response.status, parsed, response.headers.get('ETag'));
  if (reply.status === 401 && options.signingIn !== true) {
    window.dispatchEvent(new CustomEvent('patchbay:signed-out'));
  }
  return reply;
}

/** A GET that must succeed; throws an Error with the server's explanation otherwise. */
export async function load(path) {
  const reply = await call('GET', path);
  if (!reply.ok) throw new Error(reply.message);
  return reply;
}

export const paths = {
  tenants: () => '/api/v1/tenants',
  tenant: (t) => `/api/v1/tenants/${encodeURIComponent(t)}`,
  accounts: (t) => `/api/v1/tenants/${encodeURIComponent(t)}/integration-accounts`,
  feeds: (t) => `/api/v1/tenants/${encodeURIComponent(t)}/feeds`,
  account: (t, id) => `/api/v1/tenants/${encodeURIComponent(t)}/integration-accounts/${encodeURIComponent(id)}`,
  audit: (t, id) => `${paths.account(t, id)}/audit`,
  testUnsaved: (t) => `${paths.accounts(t)}/test`,
  testSaved: (t, id) => `${paths.account(t, id)}/test`,
  action: (t, id, action) => `${paths.account(t, id)}/actions/${encodeURIComponent(action)}`,
  exportJobs: (t) => `/api/v1/tenants/${encodeURIComponent(t)}/recording-export-jobs`,
  exportJob: (t, id) => `${paths.exportJobs(t)}/${encodeURIComponent(id)}`,
  exportRunNow: (t, id) => `${paths.exportJob(t, id)}/run`,
  exportRuns: (t, id) => `${paths.exportJob(t, id)}/runs`,
  exportMetadata: (t, id, run) => `${paths.exportRuns(t, id)}/${encodeURIComponent(run)}/metadata.csv`,
  types: () => '/api/v1/integration-types',
  contactFields: () => '/ui/contact-fields',
  session: () => '/ui/session',
};
