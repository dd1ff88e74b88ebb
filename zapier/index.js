// patchbay's Zapier integration: triggers from the tenant's conversations, call recordings,
// recording exports and integration accounts' health, and actions that reply to customers,
// add knowledge base articles and find CRM contacts. All of it speaks patchbay's Zapier API
// (`/api/v1/tenants/{tenant}/zapier`), signed in as one of the tenant's Zapier accounts.
const { version: platformVersion } = require('zapier-platform-core');
const { version } = require('./package.json');

const authentication = require('./authentication');
const { throwForProblem } = require('./lib/api');

const byKey = (items) => Object.fromEntries(items.map((item) => [item.key, item]));

module.exports = {
  version,
  platformVersion,
  authentication,
  afterResponse: [throwForProblem],
  triggers: byKey([
    require('./triggers/new_conversation_message'),
    require('./triggers/conversation_started'),
    require('./triggers/new_recording'),
    require('./triggers/export_run_finished'),
    require('./triggers/account_health_changed'),
  ]),
  creates: byKey([require('./creates/send_message'), require('./creates/create_kb_article')]),
  searches: byKey([require('./searches/lookup_contact')]),
};
