// The connection: patchbay's address, the tenant, and the username and password of one
// of the tenant's Zapier integration accounts. Type `basic`: zapier-platform-core adds the
// `Authorization: Basic` header from the `username` and `password` fields itself; the
// two extra fields only say where patchbay is.
const { apiUrl } = require('./lib/api');

const me = async (z, bundle) => {
  const response = await z.request({ url: apiUrl(z, bundle, '/me') });
  return response.data;
};

module.exports = {
  type: 'basic',
  fields: [
    {
      key: 'base_url',
      label: 'patchbay URL',
      type: 'string',
      required: true,
      helpText: "Your patchbay's address, e.g. `https://patchbay.example.com`.",
    },
    {
      key: 'tenant',
      label: 'Tenant',
      type: 'string',
      required: true,
      helpText: "Your contact center's tenant id in patchbay, e.g. `acme`.",
    },
    {
      key: 'username',
      label: 'Username',
      type: 'string',
      required: true,
      helpText:
        'The username of one of the tenant\'s Zapier integration accounts (type "Zapier" in patchbay; it must be enabled).',
    },
    {
      key: 'password',
      label: 'Password',
      type: 'password',
      required: true,
      helpText: "That account's password.",
    },
  ],
  test: me,
  // Given the test's answer as inputData.
  connectionLabel: (z, bundle) => `${bundle.inputData.account_name} (${bundle.inputData.tenant_name})`,
};
