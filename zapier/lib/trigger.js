// A trigger of the API's `GET /triggers/{key}`: a REST hook where patchbay offers it as one
// (hooks.js), with the polling endpoint as performList for samples and de-duplication, and
// a polling trigger otherwise. Items come newest first, each with a unique `id`.
const { apiUrl } = require('./api');
const { HOOK_TRIGGERS, subscribe, unsubscribe, received } = require('../hooks');

// The most items the API lists at once, so that a busy spell between two polls loses as
// few items as it can.
const LIMIT = 100;

const list = (key) => async (z, bundle) => {
  const response = await z.request({
    url: apiUrl(z, bundle, `/triggers/${key}`),
    params: { limit: LIMIT },
  });
  return response.data;
};

const trigger = ({ key, noun, label, description, sample, outputFields }) => {
  const common = { sample, outputFields };
  const operation = HOOK_TRIGGERS.includes(key)
    ? {
        type: 'hook',
        performSubscribe: subscribe(key),
        performUnsubscribe: unsubscribe,
        perform: received,
        performList: list(key),
        ...common,
      }
    : { type: 'polling', perform: list(key), ...common };
  return { key, noun, display: { label, description }, operation };
};

module.exports = { trigger };
