// `POST /actions/lookup_contact`: contacts from the tenant's CRM (Salesforce, Zendesk,
// ServiceNow, Oracle Service Cloud) through patchbay's runtime gateway, by phone or email.
const { apiUrl } = require('../lib/api');

const perform = async (z, bundle) => {
  const { phone, email, account } = bundle.inputData;
  const given = Object.entries({ phone, email, account }).filter(([, value]) => value);
  const response = await z.request({
    url: apiUrl(z, bundle, '/actions/lookup_contact'),
    method: 'POST',
    body: Object.fromEntries(given),
  });
  return response.data.contacts;
};

module.exports = {
  key: 'lookup_contact',
  noun: 'Contact',
  display: {
    label: 'Find Contact',
    description: "Finds a contact in your contact center's CRM by phone number or email address.",
  },
  operation: {
    inputFields: [
      { key: 'phone', label: 'Phone', required: false, helpText: 'Give a phone number, an email address, or both.' },
      { key: 'email', label: 'Email', required: false },
      {
        key: 'account',
        label: 'CRM Account ID',
        required: false,
        helpText:
          "The patchbay id of the CRM account to search; needed only when the tenant has more than one enabled CRM account.",
      },
    ],
    perform,
    sample: {
      id: '35437',
      name: 'Jane Doe',
      email: 'jane.doe@example.com',
      phone: '+14155551212',
      url: 'https://acme.zendesk.com/agent/users/35437',
    },
    outputFields: [
      { key: 'id', label: 'Contact ID in the CRM' },
      { key: 'name', label: 'Name' },
      { key: 'email', label: 'Email' },
      { key: 'phone', label: 'Phone' },
      { key: 'url', label: 'URL in the CRM' },
    ],
  },
};
