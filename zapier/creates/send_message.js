// `POST /actions/send_message`: a reply to the customer of a conversation, sent through
// the conversation's messenger. patchbay answers with the reply as it stands (usually
// `pending`: it is sent, and retried while the messenger is busy, after the answer).
const { apiUrl } = require('../lib/api');

const perform = async (z, bundle) => {
  const response = await z.request({
    url: apiUrl(z, bundle, '/actions/send_message'),
    method: 'POST',
    body: { conversation_id: bundle.inputData.conversation_id, text: bundle.inputData.text },
  });
  return response.data;
};

module.exports = {
  key: 'send_message',
  noun: 'Message',
  display: {
    label: 'Send Message',
    description: 'Replies to a customer in a messenger conversation.',
  },
  operation: {
    inputFields: [
      {
        key: 'conversation_id',
        label: 'Conversation ID',
        required: true,
        helpText: 'The conversation to reply in, e.g. the Conversation ID of a New Conversation Message trigger.',
      },
      {
        key: 'text',
        label: 'Text',
        type: 'text',
        required: true,
        helpText:
          'The reply. Each messenger takes at most: Facebook 2000 characters, Telegram 4096, LINE 5000, Viber 7000, Vonage 1000.',
      },
    ],
    perform,
    sample: {
      id: 'e2f4a6b8-0c1d-4e3f-a5b7-c9d1e3f5a7b9',
      direction: 'out',
      text: 'Yes, it ships today.',
      attachments: [],
      status: 'pending',
      error: null,
      vendor_id: null,
      at: '2024-05-01T09:31:02Z',
    },
    outputFields: [
      { key: 'id', label: 'Message ID' },
      { key: 'direction', label: 'Direction' },
      { key: 'text', label: 'Text' },
      { key: 'status', label: 'Status' },
      { key: 'at', label: 'Written At', type: 'datetime' },
    ],
  },
};
