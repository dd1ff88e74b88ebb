const { App, appTester, authData, contact: known } = require('./live');

const stamp = () => `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

describe('send_message', () => {
  it("replies in a conversation through the conversation's messenger", async () => {
    const [event] = await appTester(App.triggers.new_conversation_message.operation.performList, { authData });
    expect(event).toBeDefined();
    const text = `We are on it (${stamp()})`;
    const reply = await appTester(App.creates.send_message.operation.perform, {
      authData,
      inputData: { conversation_id: event.conversation_id, text },
    });
    expect(Object.keys(reply).sort()).toEqual(Object.keys(App.creates.send_message.operation.sample).sort());
    expect(reply.direction).toBe('out');
    expect(reply.text).toBe(text);
    expect(typeof reply.id).toBe('string');
    expect(typeof reply.status).toBe('string');
  });

  it("says what is wrong with a conversation that isn't there", async () => {
    const error = await appTester(App.creates.send_message.operation.perform, {
      authData,
      inputData: { conversation_id: '00000000-0000-4000-8000-000000000000', text: 'hello' },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(JSON.parse(error.message).status).toBe(404);
  });
});

describe('create_kb_article', () => {
  it('adds an article with and without a URL', async () => {
    const title = `Returns within 30 days ${stamp()}`;
    const body = 'Customers may return any item within 30 days of delivery.';
    const article = await appTester(App.creates.create_kb_article.operation.perform, {
      authData,
      inputData: { title, body, url: 'https://help.example.com/returns' },
    });
    expect(Object.keys(article).sort()).toEqual(
      Object.keys(App.creates.create_kb_article.operation.sample).sort(),
    );
    expect([article.title, article.body, article.url]).toEqual([title, body, 'https://help.example.com/returns']);
    expect(typeof article.id).toBe('string');
    expect(typeof article.version).toBe('number');

    const bare = await appTester(App.creates.create_kb_article.operation.perform, {
      authData,
      inputData: { title: `${title} (no link)`, body },
    });
    expect(bare.url).toBeNull();
    expect(bare.id).not.toBe(article.id);
  });

  it("passes patchbay's reasons for refusing an article on", async () => {
    const error = await appTester(App.creates.create_kb_article.operation.perform, {
      authData,
      inputData: { title: '', body: 'no title' },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    const { message, status } = JSON.parse(error.message);
    expect(status).toBe(422);
    expect(message).toMatch(/title/);
  });
});

describe('lookup_contact', () => {
  const find = (inputData) => appTester(App.searches.lookup_contact.operation.perform, { authData, inputData });

  it('finds a contact by email, and the same contact by phone', async () => {
    const byEmail = await find({ email: known.email });
    expect(byEmail.length).toBeGreaterThanOrEqual(1);
    const [contact] = byEmail;
    expect(contact.email).toBe(known.email);
    expect(typeof contact.id).toBe('string');
    expect(typeof contact.name).toBe('string');
    expect(Object.keys(contact).sort()).toEqual(
      Object.keys(App.searches.lookup_contact.operation.sample).sort(),
    );

    const byPhone = await find({ phone: known.phone });
    expect(byPhone.map((c) => c.id)).toContain(contact.id);
  });

  it('finds nobody for an unknown address', async () => {
    await expect(find({ email: `nobody-${stamp()}@example.com` })).resolves.toEqual([]);
  });

  it("passes patchbay's reason for refusing an account that is not the tenant's CRM account on", async () => {
    const error = await find({ email: known.email, account: '00000000-0000-4000-8000-000000000000' }).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    const { message, status } = JSON.parse(error.message);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(message).toMatch(/\S/);
  });

  it('says that a phone or an email is needed', async () => {
    const error = await find({}).catch((e) => e);
    expect(error).toBeInstanceOf(Error);
    expect(JSON.parse(error.message).status).toBe(422);
  });
});
