// The live patchbay these tests talk to, from the environment. `cargo test -p patchbay
// --test zapier_app` starts one, seeds it and sets these; without them the tests fail
// here, saying what to set.
const zapier = require('zapier-platform-core');
const App = require('../index');

const NEEDED = {
  PATCHBAY_BASE_URL: "patchbay's address, e.g. http://127.0.0.1:8480",
  PATCHBAY_TENANT: 'the tenant id',
  PATCHBAY_ZAPIER_USERNAME: "the username of one of the tenant's enabled Zapier integration accounts",
  PATCHBAY_ZAPIER_PASSWORD: "that account's password",
  PATCHBAY_CONTACT_EMAIL: "the email address of a contact in the tenant's CRM account",
  PATCHBAY_CONTACT_PHONE: "that contact's phone number, as the CRM finds it",
};

const missing = Object.keys(NEEDED).filter((name) => !process.env[name]);
if (missing.length > 0) {
  throw new Error(
    `These tests run against a live patchbay; set ${missing
      .map((name) => `${name} (${NEEDED[name]})`)
      .join(', ')}. ` +
      'The tenant needs at least two items for each trigger. ' +
      'From the repository root, `cargo test -p patchbay --test zapier_app` starts patchbay, ' +
      'seeds it and runs them (after `npm ci --prefix zapier`).',
  );
}

const authData = {
  base_url: process.env.PATCHBAY_BASE_URL,
  tenant: process.env.PATCHBAY_TENANT,
  username: process.env.PATCHBAY_ZAPIER_USERNAME,
  password: process.env.PATCHBAY_ZAPIER_PASSWORD,
};

module.exports = {
  App,
  appTester: zapier.createAppTester(App),
  authData,
  contact: { email: process.env.PATCHBAY_CONTACT_EMAIL, phone: process.env.PATCHBAY_CONTACT_PHONE },
};
