// Where the app's requests go and what patchbay's errors say to a Zapier user. Every
// request is `{base_url}/api/v1/tenants/{tenant}/zapier{path}`, signed in with the
// connection's username and password (HTTP Basic, added by zapier-platform-core).

// Hosts that may be reached over plain http: only this machine (patchbay's own tests).
// Anywhere else the password would cross the network in clear, so https is required.
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

// `{base_url}/api/v1/tenants/{tenant}/zapier{path}`; a base URL with a path (patchbay
// behind a reverse proxy's prefix) keeps it.
const apiUrl = (z, bundle, path) => {
  const { base_url: base, tenant } = bundle.authData;
  let url;
  try {
    url = new URL(String(base).trim());
  } catch {
    throw new z.errors.Error(
      `The patchbay URL "${base}" is not a URL; give its address, e.g. https://patchbay.example.com`,
      'InvalidBaseUrl',
      400,
    );
  }
  const secure =
    url.protocol === 'https:' ||
    (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname));
  if (!secure) {
    throw new z.errors.Error(
      `The patchbay URL must start with https:// (the password would be sent in clear over ${url.protocol}//)`,
      'InvalidBaseUrl',
      400,
    );
  }
  const prefix = url.pathname.replace(/\/+$/, '');
  const scope = `/api/v1/tenants/${encodeURIComponent(String(tenant).trim())}/zapier`;
  return `${url.origin}${prefix}${scope}${path}`;
};

// The problem+json body's words: its detail, then each field's message.
const describe = (problem) => {
  const fields = Array.isArray(problem.errors)
    ? problem.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
    : [];
  return [problem.detail || problem.title, ...fields].filter(Boolean).join('; ');
};

// The stable part of a problem's type (`urn:patchbay:problem:not-found` → `not-found`).
const code = (problem) =>
  typeof problem.type === 'string' ? problem.type.split(':').pop() : 'error';

// afterResponse: patchbay's errors (RFC 7807 problem+json) become `z.errors.Error`s that
// show their detail. A 429 never gets here: zapier-platform-core turns it into a
// ThrottledError that waits for its Retry-After first.
const throwForProblem = (response, z) => {
  if (response.status < 400) {
    return response;
  }
  const problem = response.data && typeof response.data === 'object' ? response.data : {};
  const words = describe(problem) || `patchbay answered HTTP ${response.status}`;
  const message =
    response.status === 401
      ? `patchbay refused the username or password (${words}); check the connection's ` +
        'tenant, username and password against an enabled Zapier integration account'
      : words;
  throw new z.errors.Error(message, code(problem), response.status);
};

module.exports = { apiUrl, throwForProblem };
