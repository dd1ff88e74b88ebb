const { App, appTester, authData } = require('./live');

describe('authentication', () => {
  it("tests the connection with the Zapier account's username and password", async () => {
    const me = await appTester(App.authentication.test, { authData });
    expect(me.tenant).toBe(authData.tenant);
    expect(typeof me.tenant_name).toBe('string');
    expect(me.account_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof me.account_name).toBe('string');

    const label = await appTester(App.authentication.connectionLabel, { authData, inputData: me });
    expect(label).toBe(`${me.account_name} (${me.tenant_name})`);
  });

  it('takes the patchbay URL with a trailing slash', async () => {
    const me = await appTester(App.authentication.test, {
      authData: { ...authData, base_url: `${authData.base_url}/` },
    });
    expect(me.tenant).toBe(authData.tenant);
  });

  it('says a wrong password was refused', async () => {
    const wrong = { ...authData, password: `${authData.password}-wrong` };
    const error = await appTester(App.authentication.test, { authData: wrong }).catch((e) => e);
    expect(error.message).toMatch(/patchbay refused the username or password/);
    expect(error.message).not.toContain(wrong.password);
  });
});
