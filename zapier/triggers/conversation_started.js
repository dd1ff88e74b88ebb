const { trigger } = require('../lib/trigger');
const { outputFields } = require('../lib/conversation');

module.exports = trigger({
  key: 'conversation_started',
  noun: 'Conversation',
  label: 'Conversation Started',
  description:
    'Triggers when a customer writes to one of your messenger accounts for the first time (or again after the conversation was deleted).',
  outputFields,
  sample: {
    id: '1041',
    type: 'conversation_started',
    conversation_id: '0b8f3c52-5d7e-4a1c-9a57-2f0d8e6c4b31',
    account: '6a1d2f04-8c3b-4e5f-a7d9-1b2c3d4e5f60',
    channel: 'telegram',
    from: { id: '7001', name: 'Jane Doe' },
    message: null,
    at: '2024-05-01T09:30:16Z',
  },
});
