// REST hooks: patchbay POSTs each new item of these triggers to the Zap's hook URL as it
// happens; every other trigger is polled. This list is the one place that decides it: add a
// trigger's key here once patchbay offers it as a hook (`POST /hooks` answers 422 for the
// others).
const { apiUrl } = require('./lib/api');
const { refusal } = require('./lib/signature');

const HOOK_TRIGGERS = ['new_conversation_message', 'conversation_started'];

// performSubscribe: asks patchbay to POST `event`'s new items to the Zap's URL. Its answer
// (the hook's id and signing secret) is kept by Zapier as bundle.subscribeData.
const subscribe = (event) => async (z, bundle) => {
  const response = await z.request({
    url: apiUrl(z, bundle, '/hooks'),
    method: 'POST',
    body: { target_url: bundle.targetUrl, event },
  });
  return response.data;
};

// performUnsubscribe: stops the POSTs when the Zap is turned off.
const unsubscribe = async (z, bundle) => {
  const id = encodeURIComponent(bundle.subscribeData.id);
  await z.request({ url: apiUrl(z, bundle, `/hooks/${id}`), method: 'DELETE' });
  return {};
};

// perform: one POSTed item, the same JSON the polling endpoint lists, once its signature
// verifies with the hook's secret; anything else is dropped without running the Zap.
const received = (z, bundle) => {
  const why = refusal(bundle.subscribeData.secret, bundle.rawRequest, Math.floor(Date.now() / 1000));
  if (why) {
    throw new z.errors.HaltedError(`Not from patchbay: ${why}.`);
  }
  return [bundle.cleanedRequest];
};

module.exports = { HOOK_TRIGGERS, subscribe, unsubscribe, received };
