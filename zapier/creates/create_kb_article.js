// `POST /actions/create_kb_article`: an article in the tenant's native knowledge base,
// which the agents' and bots' knowledge base search finds.
const { apiUrl } = require('../lib/api');

const perform = async (z, bundle) => {
  const { title, body, url } = bundle.inputData;
  const response = await z.request({
    url: apiUrl(z, bundle, '/actions/create_kb_article'),
    method: 'POST',
    body: url ? { title, body, url } : { title, body },
  });
  return response.data;
};

module.exports = {
  key: 'create_kb_article',
  noun: 'Article',
  display: {
    label: 'Create Knowledge Base Article',
    description: "Adds an article to your contact center's knowledge base.",
  },
  operation: {
    inputFields: [
      { key: 'title', label: 'Title', required: true },
      { key: 'body', label: 'Body', type: 'text', required: true },
      {
        key: 'url',
        label: 'URL',
        required: false,
        helpText: 'Where the article is published, if anywhere.',
      },
    ],
    perform,
    sample: {
      id: '1f3e5d7c-9b0a-4c2e-8d6f-a1b3c5d7e9f0',
      title: 'Returns within 30 days',
      body: 'Customers may return any item within 30 days of delivery.',
      url: 'https://help.example.com/returns',
      version: 1,
      created_at: '2024-05-01T09:30:15Z',
      created_by: 'zapier:Zapier (7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f)',
      updated_at: '2024-05-01T09:30:15Z',
      updated_by: 'zapier:Zapier (7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f)',
    },
    outputFields: [
      { key: 'id', label: 'Article ID' },
      { key: 'title', label: 'Title' },
      { key: 'body', label: 'Body' },
      { key: 'url', label: 'URL' },
      { key: 'version', label: 'Version', type: 'integer' },
      { key: 'created_at', label: 'Created At', type: 'datetime' },
    ],
  },
};
