const http = require('http');
const { App, appTester, authData } = require('./live');
const { HOOK_TRIGGERS, subscribe } = require('../hooks');

// How long a hook may wait for its first delivery: patchbay POSTs as soon as a customer
// writes, and the harness has a new customer write every few hundred milliseconds.
const DELIVERY_WITHIN_MS = 20000;

const EVENT_TYPES = { new_conversation_message: 'message_in', conversation_started: 'conversation_started' };

// Each header as Zapier passes it in bundle.rawRequest: `Http-` and the name in title case.
const asZapier = (headers) =>
  Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      `Http-${name.replace(/(^|-)([a-z])/g, (_, dash, letter) => dash + letter.toUpperCase())}`,
      value,
    ]),
  );

// Hook URLs on this machine, standing in for Zapier's: each POST is answered 200 and kept
// as Zapier's rawRequest for the path's next reader.
const receiver = {
  server: null,
  base: null,
  waiting: {},
  start() {
    this.server = http.createServer((req, res) => {
      let content = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => (content += chunk));
      req.on('end', () => {
        res.writeHead(200).end();
        const take = this.waiting[req.url];
        delete this.waiting[req.url];
        if (take) {
          take({ method: req.method, headers: asZapier(req.headers), content });
        }
      });
    });
    return new Promise((resolve) =>
      this.server.listen(0, '127.0.0.1', () => {
        this.base = `http://127.0.0.1:${this.server.address().port}`;
        resolve();
      }),
    );
  },
  next(path) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nothing was POSTed to ${path} within ${DELIVERY_WITHIN_MS} ms`)),
        DELIVERY_WITHIN_MS,
      );
      this.waiting[path] = (request) => {
        clearTimeout(timer);
        resolve(request);
      };
    });
  },
};

beforeAll(() => receiver.start());
afterAll(() => new Promise((resolve) => receiver.server.close(resolve)));

describe.each(HOOK_TRIGGERS)('REST hook %s', (key) => {
  const { operation } = App.triggers[key];

  it(
    'gets new items POSTed, signed, takes them, drops a forged one, and unsubscribes once',
    async () => {
      const path = `/hooks/${key}`;
      const delivered = receiver.next(path);
      const hook = await appTester(operation.performSubscribe, { authData, targetUrl: `${receiver.base}${path}` });
      expect(hook.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(hook.secret).toMatch(/^whsec_/);
      try {
        const rawRequest = await delivered;
        const item = JSON.parse(rawRequest.content);
        expect(item.type).toBe(EVENT_TYPES[key]);
        expect(Object.keys(item).sort()).toEqual(Object.keys(operation.sample).sort());
        const bundle = { authData, subscribeData: hook, rawRequest, cleanedRequest: item };
        await expect(appTester(operation.perform, bundle)).resolves.toEqual([item]);

        const forged = { ...item, id: `${item.id}0` };
        const forgery = { ...bundle, rawRequest: { ...rawRequest, content: JSON.stringify(forged) }, cleanedRequest: forged };
        await expect(appTester(operation.perform, forgery)).rejects.toThrow(/Not from patchbay/);
      } finally {
        await expect(appTester(operation.performUnsubscribe, { authData, subscribeData: hook })).resolves.toEqual({});
      }
      // Gone: a second unsubscribe finds no hook.
      const again = await appTester(operation.performUnsubscribe, { authData, subscribeData: hook }).catch((e) => e);
      expect(again).toBeInstanceOf(Error);
      expect(JSON.parse(again.message).status).toBe(404);
    },
    DELIVERY_WITHIN_MS + 10000,
  );
});

describe('triggers that are polled', () => {
  const polled = Object.keys(App.triggers).filter((key) => !HOOK_TRIGGERS.includes(key));

  // When this fails, patchbay has started offering the trigger as a hook: add it to
  // HOOK_TRIGGERS in hooks.js.
  it.each(polled)('%s is refused as a hook by patchbay', async (key) => {
    const targetUrl = `${receiver.base}/hooks/${key}`;
    const error = await appTester(subscribe(key), { authData, targetUrl }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(JSON.parse(error.message).status).toBe(422);
  });
});
