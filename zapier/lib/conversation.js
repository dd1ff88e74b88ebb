// What the two conversation triggers' items share: a conversation event of patchbay's
// messenger edge (Facebook Messenger, Telegram, Viber, LINE, Vonage).
const outputFields = [
  { key: 'id', label: 'Event ID' },
  { key: 'type', label: 'Event Type' },
  { key: 'conversation_id', label: 'Conversation ID' },
  { key: 'account', label: 'Messenger Account ID' },
  { key: 'channel', label: 'Channel' },
  { key: 'from__id', label: 'Customer ID' },
  { key: 'from__name', label: 'Customer Name' },
  { key: 'message__id', label: 'Message ID' },
  { key: 'message__text', label: 'Message Text' },
  { key: 'message__status', label: 'Message Status' },
  { key: 'message__vendor_id', label: "Message ID at the Messenger" },
  { key: 'message__at', label: 'Message Written At', type: 'datetime' },
  { key: 'at', label: 'Happened At', type: 'datetime' },
];

module.exports = { outputFields };
