const { App, appTester, authData } = require('./live');

// Each trigger's time that orders its items, newest first.
const WHEN = {
  new_conversation_message: 'at',
  conversation_started: 'at',
  new_recording: 'received_at',
  export_run_finished: 'finished_at',
  account_health_changed: 'tested_at',
};

// What lists a trigger's items: the polling perform, or a hook's performList.
const listOf = (operation) => (operation.type === 'hook' ? operation.performList : operation.perform);

describe.each(Object.keys(App.triggers))('trigger %s', (key) => {
  const { operation } = App.triggers[key];
  let items;

  beforeAll(async () => {
    items = await appTester(listOf(operation), { authData });
  });

  it('lists items with unique ids, newest first', () => {
    expect(Array.isArray(items)).toBe(true);
    expect(items.length).toBeGreaterThanOrEqual(2);
    const ids = items.map((item) => item.id);
    for (const id of ids) {
      expect(typeof id).toBe('string');
      expect(id.length).toBeGreaterThan(0);
    }
    expect(new Set(ids).size).toBe(ids.length);
    const times = items.map((item) => Date.parse(item[WHEN[key]]));
    expect(times.every(Number.isFinite)).toBe(true);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('has a sample with the fields of the items patchbay lists', () => {
    const fields = (item) => Object.keys(item).sort();
    for (const item of items) {
      expect(fields(item)).toEqual(fields(operation.sample));
    }
  });

  it('has output fields that name fields of the items', () => {
    const value = (item, path) => path.split('__').reduce((at, part) => (at == null ? at : at[part]), item);
    for (const { key: path } of operation.outputFields) {
      expect([path, items.some((item) => value(item, path) !== undefined)]).toEqual([path, true]);
    }
  });
});

describe('conversation triggers', () => {
  it('list only their own event type', async () => {
    for (const [key, type] of [
      ['new_conversation_message', 'message_in'],
      ['conversation_started', 'conversation_started'],
    ]) {
      const items = await appTester(listOf(App.triggers[key].operation), { authData });
      expect(new Set(items.map((item) => item.type))).toEqual(new Set([type]));
      // Event ids are the tenant's event numbers: newest first is highest first.
      const numbers = items.map((item) => BigInt(item.id));
      expect([...numbers].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))).toEqual(numbers);
    }
  });
});
