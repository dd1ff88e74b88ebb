const { trigger } = require('../lib/trigger');

module.exports = trigger({
  key: 'account_health_changed',
  noun: 'Account Health',
  label: 'Integration Account Health Changed',
  description:
    "Triggers when an integration account's connection test comes out differently from the last one (it starts failing, or works again).",
  outputFields: [
    { key: 'id', label: 'Change ID' },
    { key: 'account_id', label: 'Account ID' },
    { key: 'account_name', label: 'Account Name' },
    { key: 'type', label: 'Integration Type' },
    { key: 'provider', label: 'Provider' },
    { key: 'status', label: 'Status' },
    { key: 'previous_status', label: 'Previous Status' },
    { key: 'category', label: 'Failure Category' },
    { key: 'message', label: 'Message' },
    { key: 'tested_at', label: 'Tested At', type: 'datetime' },
  ],
  sample: {
    id: '5f1e2d3c-4b5a-4968-8776-655443322110',
    account_id: '7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f',
    account_name: 'Zendesk',
    type: 'zendesk',
    provider: 'default',
    status: 'failed',
    previous_status: 'ok',
    category: 'invalid_credentials',
    message: 'Zendesk refused the API token (401).',
    tested_at: '2024-05-01T09:30:15Z',
  },
});
