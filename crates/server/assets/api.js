// @ts-check
// The JSON API, called with the session cookie. Every write carries the session's CSRF
// token; a 401 means the session ended (signed out elsewhere, expired, token revoked).
//
// The typedefs below are the shapes of the API's answers this screen reads (the OpenAPI
// document at /api/v1/openapi.json describes them in full); `tsc --noEmit` checks the
// screen against them (see tsconfig.json).

/**
 * @typedef {'sp_admin' | 'tenant_admin' | 'tenant_viewer' | 'event_producer' | 'gateway_client'} Role
 *
 * @typedef {object} Principal Who is signed in (`GET /ui/session`): a token, or a user who
 *   signed in through the tenant's identity provider.
 * @property {string | null} token_id The token; none for a user.
 * @property {string | null} user_id The user; none for a token.
 * @property {string} name The token's name, or the user's email or subject.
 * @property {Role} role
 * @property {string | null} tenant
 *
 * @typedef {object} Session
 * @property {Principal} principal
 * @property {string} csrf_token
 *
 * @typedef {object} AdminSso The tenant's Admin SSO as the sign-in page offers it (`GET /ui/sso/{tenant}`).
 * @property {string} name The SSO account's name: "Sign in with <name>".
 * @property {string} login_path Where the sign-in starts; takes `?return_to=` a path of patchbay.
 * @property {boolean} required Token sign-in to the admin screen is refused for the tenant's tokens.
 *
 * @typedef {'tenant_admin' | 'tenant_viewer'} UserRole
 *
 * @typedef {object} User A person who signs in through the tenant's identity provider.
 * @property {string} id
 * @property {string} name_id The identity provider's subject (NameID), exactly as it sends it.
 * @property {string | null} email
 * @property {string | null} display_name
 * @property {UserRole} role
 * @property {boolean} enabled
 * @property {string} created_by `jit` when the first sign-in created the user, else the admin who did.
 * @property {string} created_at
 * @property {string} updated_at
 * @property {string | null} last_sign_in_at
 * @property {number} version
 *
 * @typedef {object} FieldError One entry of a problem's `errors`.
 * @property {string} field
 * @property {string} rule
 * @property {string} message
 *
 * @typedef {object} Tenant
 * @property {string} id
 * @property {string} name
 * @property {string[]} enabled_types
 * @property {number} version
 * @property {string} created_at
 * @property {string} updated_at
 *
 * @typedef {object} TenantListItem A tenant as the list shows it (`GET /api/v1/tenants`).
 * @property {string} id
 * @property {string} name
 * @property {string[]} enabled_types
 * @property {number} version
 * @property {string} created_at
 * @property {string} updated_at
 * @property {number} account_count
 * @property {number} failing_account_count Accounts whose last connection test failed.
 *
 * @typedef {object} TenantContents What deleting a tenant removes, counted.
 * @property {number} accounts
 * @property {number} export_jobs
 * @property {number} users
 * @property {number} tokens Tokens not revoked yet.
 * @property {number} recordings
 *
 * @typedef {object} Token An API token as listed (never its value).
 * @property {string} id
 * @property {string} name
 * @property {Role} role
 * @property {string | null} tenant_id
 * @property {string} created_at
 * @property {string | null} revoked_at
 * @property {string | null} last_used_at To the minute.
 *
 * @typedef {Token & {token: string}} TokenCreated A token just created, with its value (shown only then).
 *
 * @typedef {object} KeyInfo One master key.
 * @property {number} id
 * @property {boolean} active
 * @property {boolean} in_ring
 * @property {number} values How many secret values it seals.
 * @property {string | null} rotated_at When a rotation added it.
 *
 * @typedef {object} KeyStatus
 * @property {number} active
 * @property {KeyInfo[]} keys
 *
 * @typedef {object} TestStep
 * @property {string} name
 * @property {'ok' | 'failed'} status
 * @property {string} [detail]
 * @property {number} [duration_ms]
 *
 * @typedef {object} TestReport A connection test's report (or a failed action's, without `tested_at`).
 * @property {'ok' | 'failed' | 'unsupported'} status
 * @property {string | null} [category]
 * @property {string} [message]
 * @property {TestStep[]} [steps]
 * @property {string} [tested_at]
 * @property {number} [duration_ms]
 *
 * @typedef {object} Account
 * @property {string} id
 * @property {string} tenant
 * @property {string} type
 * @property {string} provider
 * @property {string} name
 * @property {boolean} enabled
 * @property {Record<string, unknown>} properties The non-secret properties.
 * @property {Record<string, boolean>} secrets Whether each secret property is set.
 * @property {number} version
 * @property {string} created_at
 * @property {string} created_by
 * @property {string} updated_at
 * @property {string} updated_by
 * @property {TestReport | null} last_test
 * @property {string | null} [inbound_webhook_url] Where the messenger delivers (messenger accounts).
 * @property {InboundHealth | null} [inbound] What that webhook saw.
 *
 * @typedef {object} InboundHealth
 * @property {number} accepted
 * @property {number} rejected
 * @property {string | null} last_delivery_at
 * @property {{at: string, status: number, reason: string} | null} last_rejected
 *
 * @typedef {object} FeedHealth
 * @property {string} account_id
 * @property {string} kind `aspect_tcp`, `wfm_http`, `loxysoft`, `nice` or `statistics_receiver`.
 * @property {'starting' | 'running' | 'retrying' | 'invalid_config'} status
 * @property {boolean} connected
 * @property {number} sent
 * @property {number} failed
 * @property {string | null} [last_success]
 * @property {string | null} [last_error]
 * @property {string | null} [last_error_at]
 *
 * @typedef {'ready' | 'busy' | 'after_call_work' | 'not_ready' | 'supervising'} AgentState
 *
 * @typedef {object} LiveCall The call an agent is on.
 * @property {string} call_id
 * @property {string} extension
 * @property {string | null} service
 * @property {'inbound' | 'outbound' | 'internal' | null} direction
 * @property {string} since
 *
 * @typedef {object} LiveAgent A logged-in agent.
 * @property {string} agent_id
 * @property {AgentState} state
 * @property {string | null} reason
 * @property {string} since
 * @property {string} extension
 * @property {string[]} services
 * @property {LiveCall | null} call
 *
 * @typedef {object} LiveService The statistics of one service.
 * @property {string} service
 * @property {number} calls_waiting
 * @property {number} longest_wait_s
 * @property {number} agents_ready
 * @property {number} agents_busy
 * @property {number} handled
 * @property {number} abandoned
 * @property {string} updated_at
 *
 * @typedef {object} LiveExportRun A running export run with its job's name.
 * @property {string} job_name
 * @property {ExportRun} run
 *
 * @typedef {object} LiveSnapshot A tenant's live state (`GET …/live/snapshot`, and the stream's `snapshot` event).
 * @property {string} cursor
 * @property {LiveAgent[]} agents
 * @property {LiveService[]} services
 * @property {FeedHealth[]} feeds
 * @property {LiveExportRun[]} export_runs
 *
 * @typedef {object} Choice
 * @property {string} value
 * @property {string} label
 *
 * @typedef {object} Titled How the API document titles and describes one value of an enumeration.
 * @property {string} title
 * @property {string} description
 *
 * @typedef {object} OpenApi The parts of the OpenAPI document the screen reads.
 * @property {{schemas: Record<string, {oneOf?: {const: string, title: string, description: string, 'x-tenant-bound'?: boolean}[]}>}} components
 *
 * @typedef {object} RecordField
 * @property {string} key
 * @property {string} label
 * @property {number} default
 * @property {number} min
 * @property {number} max
 *
 * @typedef {{type: 'text', max_len: number} | {type: 'integer', min: number, max: number}} MappingValue
 *
 * @typedef {{when: 'never'} | {when: 'always'} | {when: 'if', field: string, equals: unknown}} Required
 *
 * @typedef {object} FieldCommon
 * @property {string} key
 * @property {string} label
 * @property {string} help
 * @property {unknown} default
 * @property {boolean} fixed
 * @property {Required} required
 * @property {string | null} example
 * @property {boolean} target
 *
 * @typedef {{kind: 'text', max_len: number, rule: 'hostname' | 'host_port' | 'bucket_name' | 'pem_certificate' | 'email' | null}
 *   | {kind: 'secret', max_len: number}
 *   | {kind: 'url', schemes: string[]}
 *   | {kind: 'integer', min: number, max: number, unit: string | null}
 *   | {kind: 'bool'}
 *   | {kind: 'enum', choices: Choice[]}
 *   | {kind: 'mapping', key_label: string, value_label: string, value: MappingValue}
 *   | {kind: 'contact_field_mapping'}
 *   | {kind: 'record_field_sizes', fields: RecordField[]}} FieldKind
 *
 * @typedef {FieldCommon & FieldKind} Field A field descriptor of the catalog.
 *
 * @typedef {object} Action
 * @property {string} key
 * @property {string} label
 * @property {string} help
 * @property {Field[]} params
 *
 * @typedef {object} Provider
 * @property {string} key
 * @property {string} label
 * @property {Field[]} fields
 * @property {{kind: 'supported', probe: string} | {kind: 'none', reason: string}} test
 * @property {Action[]} actions
 *
 * @typedef {{rule: 'many'} | {rule: 'one_per_tenant', group: string} | {rule: 'one_per_provider'}} Cardinality
 *
 * @typedef {object} IntegrationType
 * @property {string} key
 * @property {string} label
 * @property {string} description
 * @property {Cardinality} cardinality
 * @property {boolean} gated
 * @property {Provider[]} providers
 *
 * @typedef {object} ContactFields The targets of a contact field mapping (`GET /ui/contact-fields`).
 * @property {Choice[]} basic
 * @property {{key: string, label: string, choices: Choice[]}[]} categories
 * @property {{prefix: string, pattern: string, label: string}} custom
 *
 * @typedef {object} AuditEntry
 * @property {number} id
 * @property {string} actor
 * @property {string} action
 * @property {any} changes What changed; its shape depends on `action`.
 * @property {string} at
 *
 * @typedef {object} ExportWindow Daily export hours, UTC, "HH:MM".
 * @property {string} start
 * @property {string} end
 *
 * @typedef {object} ExportRun
 * @property {string} id
 * @property {string} job_id
 * @property {'schedule' | 'manual' | 'resume'} reason
 * @property {'running' | 'succeeded' | 'failed' | 'interrupted'} state
 * @property {string} node
 * @property {number} total
 * @property {number} exported
 * @property {number} failed
 * @property {number} bytes
 * @property {string | null} error
 * @property {string} started_at
 * @property {string | null} finished_at
 *
 * @typedef {object} ExportFailure A recording a run could not export, and why.
 * @property {string} recording_id
 * @property {string} service
 * @property {string} call_started_at
 * @property {string} object_key
 * @property {string | null} category A failure category (`Category` of the API document); none for a problem on the server's side.
 * @property {string} error What went wrong, in words.
 * @property {number} attempts
 * @property {string} failed_at
 *
 * @typedef {object} ExportJob
 * @property {string} id
 * @property {string} name
 * @property {string} account_id
 * @property {boolean} enabled
 * @property {string[]} services
 * @property {string} key_prefix
 * @property {string} filename_template
 * @property {number} interval_seconds
 * @property {ExportWindow | null} window
 * @property {number | null} bandwidth_limit_bytes_per_second
 * @property {boolean} delete_local_after_export
 * @property {number} concurrency
 * @property {string | null} next_run_at
 * @property {ExportRun | null} last_run
 * @property {number} version
 * @property {string} created_at
 * @property {string} created_by
 * @property {string} updated_at
 * @property {string} updated_by
 *
 * @typedef {'inbound' | 'outbound' | 'internal'} Direction
 *
 * @typedef {object} RecordingExport Where one export job put a recording (only on a GET of the recording).
 * @property {string} job_id
 * @property {string} account_id The AWS account the job uploads with.
 * @property {'uploading' | 'success' | 'failed'} state
 * @property {string} object_key
 * @property {string | null} bucket The bucket it was uploaded to, once it was.
 * @property {string | null} error Why it failed.
 * @property {string | null} error_category The failure's category (as a connection test names it).
 * @property {number} attempts
 * @property {string} run_id
 * @property {string} updated_at
 *
 * @typedef {object} Recording A call recording's metadata and where its audio is.
 * @property {string} recording_id
 * @property {string} global_interaction_id
 * @property {string} call_started_at
 * @property {string} agent_login
 * @property {string} agent_first_name
 * @property {string} agent_last_name
 * @property {string} customer_phone
 * @property {Direction} direction
 * @property {string} service
 * @property {string} disposition
 * @property {boolean} flagged
 * @property {{state: 'none' | 'local' | 'removed', size: number | null, sha256: string | null, content_type: string | null}} audio
 * @property {RecordingExport[]} [exports]
 * @property {string} received_at
 *
 * @typedef {'newest' | 'oldest'} RecordingOrder A search's `order`: by call time.
 *
 * @typedef {object} RecordingPage
 * @property {Recording[]} items In the search's `order`, newest call first by default.
 * @property {string | null} next_cursor
 *
 * @typedef {object} Utterance
 * @property {number | null} start Seconds from the start of the call.
 * @property {number | null} end
 * @property {string} text
 * @property {number | null} confidence
 * @property {{label: 'positive' | 'neutral' | 'negative', score: number} | null} sentiment
 *
 * @typedef {object} Transcript
 * @property {'running' | 'done' | 'failed'} state
 * @property {Utterance[]} utterances
 * @property {{category: string | null, detail: string} | null} error
 * @property {string | null} sentiment_error
 * @property {string} requested_by
 * @property {string} started_at
 * @property {string | null} finished_at
 *
 * @typedef {object} TemplateToken A token of a file name template, `$(name)`.
 * @property {string} name
 * @property {string} meaning
 * @property {string} example A value, for the example key.
 *
 * @typedef {object} ExportJobSettings How the catalog describes an export job's settings
 *   (`GET /api/v1/recording-export-jobs/settings`).
 * @property {Field[]} fields
 * @property {TemplateToken[]} tokens
 */

/** @type {string | null} */
let csrfToken = null;

/** @param {string | null} token */
export function setCsrf(token) {
  csrfToken = token;
}

/** What the server answered: status, parsed body (JSON or problem+json), ETag. */
export class Reply {
  /**
   * @param {number} status 0 when the server could not be reached.
   * @param {any} body The parsed JSON, or null for an empty body.
   * @param {Headers | null} headers
   */
  constructor(status, body, headers) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }

  /**
   * A response header (`Patchbay-Tested`, say), null when absent.
   * @param {string} name
   */
  header(name) {
    return this.headers ? this.headers.get(name) : null;
  }

  get ok() {
    return this.status >= 200 && this.status < 300;
  }

  /**
   * The problem's `errors`, empty when there are none.
   * @returns {FieldError[]}
   */
  get errors() {
    return (this.body && Array.isArray(this.body.errors)) ? this.body.errors : [];
  }

  /**
   * A sentence for the user.
   * @returns {string}
   */
  get message() {
    if (this.status === 0) return this.body.detail;
    const b = this.body || {};
    return b.detail || b.message || b.title || `The server answered ${this.status}.`;
  }
}

/**
 * @typedef {object} CallOptions
 * @property {unknown} [body] Sent as JSON.
 * @property {number} [ifMatch] The version the write is based on.
 * @property {string | null} [tested] A test of the form's values to keep with the save (`Patchbay-Tested`).
 * @property {boolean} [signingIn] A 401 is an answer, not the end of the session.
 */

/**
 * @param {'GET' | 'POST' | 'PUT' | 'DELETE'} method
 * @param {string} path
 * @param {CallOptions} [options]
 * @returns {Promise<Reply>}
 */
export async function call(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (options.ifMatch !== undefined) headers['If-Match'] = `"${options.ifMatch}"`;
  if (options.tested) headers['Patchbay-Tested'] = options.tested;
  let body;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    return new Reply(0, { detail: `The server could not be reached (${errorText(e)}). Check your connection and try again.` }, null);
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
  const reply = new Reply(response.status, parsed, response.headers);
  if (reply.status === 401 && options.signingIn !== true) {
    window.dispatchEvent(new CustomEvent('patchbay:signed-out'));
  }
  return reply;
}

/**
 * What a caught exception says.
 * @param {unknown} e
 * @returns {string}
 */
export function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

/**
 * A GET that must succeed; throws an Error with the server's explanation otherwise.
 * @param {string} path
 * @returns {Promise<Reply>}
 */
export async function load(path) {
  const reply = await call('GET', path);
  if (!reply.ok) throw new Error(reply.message);
  return reply;
}

/**
 * The values of an enumeration of the API document (`Role`, `UserRole`, `Category`) with their titles
 * and descriptions, by value.
 * @param {OpenApi} doc
 * @param {string} name
 * @returns {Record<string, Titled>}
 */
export function titles(doc, name) {
  return Object.fromEntries((doc.components.schemas[name]?.oneOf || []).map((c) => [c.const, { title: c.title, description: c.description }]));
}

/**
 * The roles whose tokens belong to one tenant (the API document marks them `x-tenant-bound`).
 * @param {OpenApi} doc
 * @returns {string[]}
 */
export function tenantBoundRoles(doc) {
  return (doc.components.schemas.Role?.oneOf || []).filter((c) => c['x-tenant-bound'] === true).map((c) => c.const);
}

/** The API paths the screen calls; every segment is encoded. */
export const paths = {
  tenants: () => '/api/v1/tenants',
  tenant: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}`,
  tenantContents: (/** @type {string} */ t) => `${paths.tenant(t)}/contents`,
  tokens: () => '/api/v1/tokens',
  token: (/** @type {string} */ id) => `/api/v1/tokens/${encodeURIComponent(id)}`,
  keys: () => '/api/v1/keys',
  accounts: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}/integration-accounts`,
  feeds: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}/feeds`,
  liveStream: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}/live/stream`,
  account: (/** @type {string} */ t, /** @type {string} */ id) => `/api/v1/tenants/${encodeURIComponent(t)}/integration-accounts/${encodeURIComponent(id)}`,
  audit: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.account(t, id)}/audit`,
  testUnsaved: (/** @type {string} */ t) => `${paths.accounts(t)}/test`,
  testSaved: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.account(t, id)}/test`,
  action: (/** @type {string} */ t, /** @type {string} */ id, /** @type {string} */ action) => `${paths.account(t, id)}/actions/${encodeURIComponent(action)}`,
  rotateHook: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.account(t, id)}/inbound-webhook/rotate`,
  exportJobSettings: () => '/api/v1/recording-export-jobs/settings',
  exportJobs: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}/recording-export-jobs`,
  exportJob: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.exportJobs(t)}/${encodeURIComponent(id)}`,
  exportRunNow: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.exportJob(t, id)}/run`,
  exportRuns: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.exportJob(t, id)}/runs`,
  exportMetadata: (/** @type {string} */ t, /** @type {string} */ id, /** @type {string} */ run) => `${paths.exportRuns(t, id)}/${encodeURIComponent(run)}/metadata.csv`,
  recordings: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}/recordings`,
  recording: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.recordings(t)}/${encodeURIComponent(id)}`,
  recordingAudio: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.recording(t, id)}/audio`,
  transcript: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.recording(t, id)}/transcript`,
  exportRunFailures: (/** @type {string} */ t, /** @type {string} */ id, /** @type {string} */ run) => `${paths.exportRuns(t, id)}/${encodeURIComponent(run)}/failures`,
  types: () => '/api/v1/integration-types',
  openapi: () => '/api/v1/openapi.json',
  users: (/** @type {string} */ t) => `/api/v1/tenants/${encodeURIComponent(t)}/users`,
  user: (/** @type {string} */ t, /** @type {string} */ id) => `${paths.users(t)}/${encodeURIComponent(id)}`,
  contactFields: () => '/ui/contact-fields',
  session: () => '/ui/session',
  sso: (/** @type {string} */ t) => `/ui/sso/${encodeURIComponent(t)}`,
};
