// Standard Webhooks (https://www.standardwebhooks.com) verification of a REST hook
// delivery: `webhook-signature` holds space-separated `v1,<base64>` signatures, each an
// HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{raw body}` keyed by the base64 after
// the secret's `whsec_`. Zapier passes the request's headers prefixed with `Http-`.
const crypto = require('crypto');

// How far a delivery's timestamp may be from now (the specification's default), so a
// captured delivery cannot be replayed later. patchbay signs every attempt anew.
const TOLERANCE_SECONDS = 5 * 60;

const header = (headers, name) => {
  const wanted = [name, `http-${name}`];
  const key = Object.keys(headers || {}).find((k) => wanted.includes(k.toLowerCase()));
  return key === undefined ? undefined : String(headers[key]);
};

// Why `request` (Zapier's bundle.rawRequest: headers and content) does not verify with
// `secret` at `now` (seconds), or null when it does.
const refusal = (secret, request, now) => {
  const headers = request && request.headers;
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    return 'the delivery has no webhook-id, webhook-timestamp or webhook-signature header';
  }
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    return 'the delivery is too old or from the future';
  }
  if (typeof secret !== 'string' || !secret.startsWith('whsec_')) {
    return 'the hook has no signing secret; turn the Zap off and on again';
  }
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const content = request.content === undefined ? '' : String(request.content);
  const expected = crypto.createHmac('sha256', key).update(`${id}.${timestamp}.${content}`).digest();
  const matches = signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',');
    if (version !== 'v1' || !value) {
      return false;
    }
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
  return matches ? null : 'the signature does not match';
};

module.exports = { refusal };
