// The app's definition, without a server.
const zapier = require('zapier-platform-core');
const App = require('../index');
const { HOOK_TRIGGERS } = require('../hooks');

const appTester = zapier.createAppTester(App);

describe('the app definition', () => {
  it('is valid for the Zapier platform schema', async () => {
    const { results } = await zapier.createAppHandler(App)({ command: 'validate' });
    expect(results).toEqual([]);
  });

  it('makes the hookable triggers REST hooks that list from the polling endpoint, and polls the others', () => {
    for (const [key, { operation }] of Object.entries(App.triggers)) {
      if (HOOK_TRIGGERS.includes(key)) {
        expect([key, operation.type]).toEqual([key, 'hook']);
        for (const part of ['performSubscribe', 'performUnsubscribe', 'perform', 'performList']) {
          expect([key, typeof operation[part]]).toEqual([key, 'function']);
        }
      } else {
        expect([key, operation.type, typeof operation.perform]).toEqual([key, 'polling', 'function']);
      }
    }
    expect(HOOK_TRIGGERS.filter((key) => !App.triggers[key])).toEqual([]);
  });
});

describe('the patchbay URL', () => {
  const connect = (base_url) =>
    appTester(App.authentication.test, {
      authData: { base_url, tenant: 'acme', username: 'zap', password: 'secret' },
    });

  it('must be https unless it is this machine, before any request is made', async () => {
    await expect(connect('http://patchbay.example.com')).rejects.toThrow(/must start with https:\/\//);
    await expect(connect('ftp://patchbay.example.com')).rejects.toThrow(/must start with https:\/\//);
  });

  it('must be a URL', async () => {
    await expect(connect('patchbay.example.com')).rejects.toThrow(/is not a URL/);
  });
});
