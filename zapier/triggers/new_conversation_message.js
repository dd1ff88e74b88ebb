const { trigger } = require('../lib/trigger');
const { outputFields } = require('../lib/conversation');

module.exports = trigger({
  key: 'new_conversation_message',
  noun: 'Message',
  label: 'New Conversation Message',
  description: 'Triggers when a customer writes to one of your messenger accounts.',
  outputFields,
  sample: {
    id: '1042',
    type: 'message_in',
    conversation_id: '0b8f3c52-5d7e-4a1c-9a57-2f0d8e6c4b31',
    account: '6a1d2f04-8c3b-4e5f-a7d9-1b2c3d4e5f60',
    channel: 'telegram',
    from: { id: '7001', name: 'Jane Doe' },
    message: {
      id: 'c4e7a9b0-3f21-4d8e-b6a5-9e8d7c6b5a41',
      direction: 'in',
      text: 'Hello, is my order on its way?',
      attachments: [],
      status: 'received',
      error: null,
      vendor_id: '5521',
      at: '2024-05-01T09:30:15Z',
    },
    at: '2024-05-01T09:30:16Z',
  },
});
