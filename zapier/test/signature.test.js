// REST hook deliveries are taken only when their Standard Webhooks signature verifies.
const crypto = require('crypto');
const zapier = require('zapier-platform-core');
const App = require('../index');
const { refusal } = require('../lib/signature');

const appTester = zapier.createAppTester(App);

// The example of the Standard Webhooks specification's reference libraries.
const EXAMPLE = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  request: {
    headers: {
      'Http-Webhook-Id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'Http-Webhook-Timestamp': '1614265330',
      'Http-Webhook-Signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    },
    content: '{"test": 2432232314}',
  },
  at: 1614265330,
};

const withHeader = (name, value) => ({
  ...EXAMPLE.request,
  headers: { ...EXAMPLE.request.headers, [name]: value },
});

describe('a delivery signature', () => {
  it("verifies the specification's example, with Zapier's Http- headers or the plain ones", () => {
    expect(refusal(EXAMPLE.secret, EXAMPLE.request, EXAMPLE.at)).toBeNull();
    const plain = Object.fromEntries(
      Object.entries(EXAMPLE.request.headers).map(([k, v]) => [k.replace('Http-', '').toLowerCase(), v]),
    );
    expect(refusal(EXAMPLE.secret, { ...EXAMPLE.request, headers: plain }, EXAMPLE.at)).toBeNull();
  });

  it('verifies when one of several signatures matches', () => {
    const several = `v1,bm90IHRoaXMgb25l ${EXAMPLE.request.headers['Http-Webhook-Signature']}`;
    expect(refusal(EXAMPLE.secret, withHeader('Http-Webhook-Signature', several), EXAMPLE.at)).toBeNull();
  });

  it('fails for a changed body, id or timestamp, or another secret', () => {
    const other = `whsec_${crypto.randomBytes(24).toString('base64')}`;
    expect(refusal(EXAMPLE.secret, { ...EXAMPLE.request, content: '{"test": 2432232315}' }, EXAMPLE.at)).toMatch(
      /does not match/,
    );
    expect(refusal(EXAMPLE.secret, withHeader('Http-Webhook-Id', 'msg_other'), EXAMPLE.at)).toMatch(/does not match/);
    expect(refusal(EXAMPLE.secret, withHeader('Http-Webhook-Timestamp', '1614265331'), EXAMPLE.at)).toMatch(
      /does not match/,
    );
    expect(refusal(other, EXAMPLE.request, EXAMPLE.at)).toMatch(/does not match/);
  });

  it('fails five minutes and a second away from its timestamp', () => {
    expect(refusal(EXAMPLE.secret, EXAMPLE.request, EXAMPLE.at + 300)).toBeNull();
    expect(refusal(EXAMPLE.secret, EXAMPLE.request, EXAMPLE.at + 301)).toMatch(/too old/);
    expect(refusal(EXAMPLE.secret, EXAMPLE.request, EXAMPLE.at - 301)).toMatch(/too old/);
  });

  it('fails without its headers or with another scheme', () => {
    expect(refusal(EXAMPLE.secret, { content: EXAMPLE.request.content }, EXAMPLE.at)).toMatch(/no webhook-id/);
    const v2 = EXAMPLE.request.headers['Http-Webhook-Signature'].replace('v1,', 'v2,');
    expect(refusal(EXAMPLE.secret, withHeader('Http-Webhook-Signature', v2), EXAMPLE.at)).toMatch(/does not match/);
  });
});

describe('a REST hook trigger', () => {
  const { perform } = App.triggers.new_conversation_message.operation;
  const item = App.triggers.new_conversation_message.operation.sample;
  const secret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
  const delivery = (key, timestamp = Math.floor(Date.now() / 1000)) => {
    const content = JSON.stringify(item);
    const id = `msg_${crypto.randomBytes(8).toString('hex')}`;
    const mac = crypto.createHmac('sha256', Buffer.from(key.slice(6), 'base64'));
    const signature = mac.update(`${id}.${timestamp}.${content}`).digest('base64');
    return {
      method: 'POST',
      headers: {
        'Http-Webhook-Id': id,
        'Http-Webhook-Timestamp': String(timestamp),
        'Http-Webhook-Signature': `v1,${signature}`,
      },
      content,
    };
  };
  const receive = (rawRequest) =>
    appTester(perform, { subscribeData: { id: 'hook', secret }, rawRequest, cleanedRequest: item });

  it('takes a delivery signed with its secret as the item it carries', async () => {
    await expect(receive(delivery(secret))).resolves.toEqual([item]);
  });

  it('drops a delivery signed with another secret, or a stale one', async () => {
    const other = `whsec_${crypto.randomBytes(24).toString('base64')}`;
    await expect(receive(delivery(other))).rejects.toThrow(/Not from patchbay: the signature does not match/);
    const stale = Math.floor(Date.now() / 1000) - 3600;
    await expect(receive(delivery(secret, stale))).rejects.toThrow(/Not from patchbay: the delivery is too old/);
  });
});
