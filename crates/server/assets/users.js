// @ts-check
// The tenant's users: the people who sign in to the admin screen through the tenant's
// identity provider (Admin SSO), added by an administrator or just in time at their first
// sign-in. The list; for administrators, adding a user, changing a user's role or whether
// they may sign in, and removing one, each change made at the version it was read at.

import { call, paths } from './api.js';
import { confirmDialog, modal } from './dialogs.js';
import { busy, h, icon, problemBanner, replace, timeEl, toast } from './dom.js';
import { fieldShell, showReplyErrors } from './form.js';
import { actorName } from './history.js';

/**
 * @typedef {import('./api.js').User} User
 * @typedef {import('./api.js').UserRole} UserRole
 * @typedef {import('./api.js').Tenant} Tenant
 * @typedef {import('./api.js').Titled} Titled
 * @typedef {import('./form.js').Shell} Shell
 *
 * @typedef {object} UserField One input of a user form and where its error shows.
 * @property {Shell} shell
 * @property {HTMLInputElement | HTMLSelectElement} input
 *
 * @typedef {{saved: User} | {deleted: User} | {reload: true}} EditOutcome
 */

/**
 * How a user is named: their display name, else their email, else their subject.
 * @param {User} user
 */
function userLabel(user) {
  return user.display_name || user.email || user.name_id;
}

/**
 * The role choice, its options titled as the API document titles `UserRole`.
 * @param {string} id
 * @param {Record<string, Titled>} roles
 * @param {UserRole} selected
 */
function roleSelect(id, roles, selected) {
  const select = h('select', { id, class: 'input input-role' },
    Object.entries(roles).map(([value, t]) => h('option', { value }, t.title)));
  select.value = selected;
  return select;
}

const ROLE_HELP = 'A tenant admin changes this contact center’s configuration; a viewer only reads it.';

/**
 * One field of a user form: its shell, described by its help and error texts.
 * @param {{key: string, label: string, help?: string}} field
 * @param {HTMLInputElement | HTMLSelectElement} input
 * @returns {UserField}
 */
function userField(field, input) {
  const shell = fieldShell(field, input.id, input);
  shell.describe(input);
  return { shell, input };
}

/**
 * The dialog body that adds a user; `close` gets the created user.
 * @param {{tenant: string, roles: Record<string, Titled>, close: (user: User | null) => void}} args
 */
function addUserForm({ tenant, roles, close }) {
  const text = (/** @type {string} */ id, /** @type {string} */ type) => h('input', { type, id, class: 'input', autocomplete: 'off', spellcheck: 'false', maxlength: 256 });
  /** @type {Record<string, UserField>} */
  const fields = {
    name_id: userField({ key: 'name_id', label: 'Subject (NameID)', help: 'Exactly what the identity provider sends as the user’s NameID, often their email address.' }, text('new-user-name_id', 'text')),
    email: userField({ key: 'email', label: 'Email' }, text('new-user-email', 'email')),
    display_name: userField({ key: 'display_name', label: 'Display name' }, text('new-user-display_name', 'text')),
    role: userField({ key: 'role', label: 'Role', help: ROLE_HELP }, roleSelect('new-user-role', roles, 'tenant_viewer')),
  };
  fields.name_id.shell.setRequired(true);
  fields.role.shell.setRequired(true);
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary save' }, 'Add user');
  const form = h('form', { class: 'user-form', id: 'new-user-form', novalidate: true },
    h('p', { class: 'muted' }, 'Add a person before their first sign-in; with just-in-time provisioning off, only users added here can sign in.'),
    banner,
    Object.values(fields).map((f) => f.shell.el),
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'btn btn-secondary cancel', onclick: () => close(null) }, 'Cancel'),
      submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(banner);
    for (const f of Object.values(fields)) f.shell.setError(null, f.input);
    const nameId = fields.name_id.input.value.trim();
    if (!nameId) {
      fields.name_id.shell.setError('Enter the subject the identity provider sends for this person.', fields.name_id.input);
      fields.name_id.input.focus();
      return;
    }
    const optional = (/** @type {string} */ key) => fields[key].input.value.trim() || undefined;
    const body = { name_id: nameId, email: optional('email'), display_name: optional('display_name'), role: fields.role.input.value };
    busy(submit, true);
    const reply = await call('POST', paths.users(tenant), { body });
    busy(submit, false);
    if (reply.ok) {
      close(reply.body);
      return;
    }
    showReplyErrors(fields, reply, banner, reply.status === 403 ? 'You may not add users.' : 'The user was not added.');
  });
  return form;
}

/**
 * The dialog body that changes a user's role and whether they may sign in, or removes them.
 * @param {{tenant: string, user: User, roles: Record<string, Titled>, close: (outcome: EditOutcome | null) => void}} args
 */
function editUserForm({ tenant, user, roles, close }) {
  const enabled = h('input', { type: 'checkbox', id: 'edit-user-enabled', class: 'checkbox', checked: user.enabled });
  /** @type {Record<string, UserField>} */
  const fields = {
    role: userField({ key: 'role', label: 'Role', help: ROLE_HELP }, roleSelect('edit-user-role', roles, user.role)),
    enabled: (() => {
      const shell = fieldShell({ key: 'enabled', label: 'Enabled', help: 'A disabled user cannot sign in, and their sessions end at once.' }, enabled.id, enabled, { inline: true });
      shell.describe(enabled);
      return { shell, input: enabled };
    })(),
  };
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  const stale = (/** @type {number} */ current) => {
    replace(banner, h('div', { class: 'banner banner-stale', role: 'alert' }, icon('alert'),
      h('div', {},
        h('strong', {}, 'Someone else changed this user after the list was loaded.'),
        h('p', {}, `Your change was not saved and nothing was overwritten. The user is now at version ${current}; you opened version ${user.version}. `
          + 'Reload the list to see the user as they are now, then apply your change again.'),
        h('div', { class: 'banner-actions' },
          h('button', { type: 'button', class: 'btn btn-primary btn-small reload', onclick: () => close({ reload: true }) }, icon('refresh'), 'Reload the list')))));
    banner.focus();
  };
  const save = h('button', { type: 'submit', class: 'btn btn-primary save' }, 'Save changes');
  const remove = h('button', { type: 'button', class: 'btn btn-danger-outline delete' }, icon('trash'), 'Delete');
  remove.addEventListener('click', async () => {
    const yes = await confirmDialog({
      title: 'Delete user',
      message: `Delete “${userLabel(user)}”?`,
      detail: 'They can no longer sign in, and their sessions end. With just-in-time provisioning on, their next sign-in through the identity provider adds them again.',
      confirmLabel: 'Delete user',
      danger: true,
    });
    if (!yes) return;
    busy(remove, true);
    const reply = await call('DELETE', paths.user(tenant, user.id), { ifMatch: user.version });
    busy(remove, false);
    if (reply.ok) close({ deleted: user });
    else if (reply.status === 412) stale(reply.body && reply.body.current_version);
    else {
      replace(banner, problemBanner(reply.status === 403 ? 'You may not delete users.' : 'The user was not deleted.', [reply.message]));
      banner.focus();
    }
  });
  const form = h('form', { class: 'user-form', id: 'edit-user-form', novalidate: true },
    h('dl', { class: 'meta user-identity' },
      h('dt', {}, 'Subject'), h('dd', {}, h('code', {}, user.name_id)),
      h('dt', {}, 'Email'), h('dd', {}, user.email || '—'),
      h('dt', {}, 'Display name'), h('dd', {}, user.display_name || '—')),
    banner,
    Object.values(fields).map((f) => f.shell.el),
    h('div', { class: 'dialog-actions' },
      remove,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn btn-secondary cancel', onclick: () => close(null) }, 'Cancel'),
      save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(banner);
    for (const f of Object.values(fields)) f.shell.setError(null, f.input);
    busy(save, true);
    const body = { role: fields.role.input.value, enabled: enabled.checked };
    const reply = await call('PUT', paths.user(tenant, user.id), { body, ifMatch: user.version });
    busy(save, false);
    if (reply.ok) {
      close({ saved: reply.body });
      return;
    }
    if (reply.status === 412) {
      stale(reply.body && reply.body.current_version);
      return;
    }
    showReplyErrors(fields, reply, banner, reply.status === 403 ? 'You may not change users.' : 'The user was not saved.');
  });
  return form;
}

/**
 * The Users page's body. `reload()` resolves with the users as they are now.
 * @param {object} args
 * @param {Tenant} args.tenant
 * @param {User[]} args.users
 * @param {import('./api.js').AdminSso | null} args.sso The tenant's Admin SSO, when single sign-on is on.
 * @param {Record<string, Titled>} args.roles How each user role is named.
 * @param {boolean} args.readOnly
 * @param {() => Promise<User[]>} args.reload
 */
export function usersView({ tenant, users, sso, roles, readOnly, reload }) {
  const body = h('tbody');
  const summary = h('p', { class: 'toolbar-summary muted' });
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  const table = h('table', { class: 'table users-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', class: 'col-user' }, 'Name'),
      h('th', { scope: 'col', class: 'col-subject' }, 'Subject'),
      h('th', { scope: 'col', class: 'col-role' }, 'Role'),
      h('th', { scope: 'col', class: 'col-state' }, 'State'),
      h('th', { scope: 'col', class: 'col-created-by' }, 'Created by'),
      h('th', { scope: 'col', class: 'col-last-sign-in' }, 'Last sign-in'),
      readOnly ? null : h('th', { scope: 'col', class: 'col-actions' }, h('span', { class: 'sr-only' }, 'Actions')))),
    body);
  const empty = h('div', { class: 'empty users-empty' },
    h('div', { class: 'empty-icon' }, icon('users')),
    h('h2', {}, 'No users yet'),
    h('p', {}, 'Users are the people who sign in to this admin screen through the contact center’s identity provider. '
      + 'They appear here when an administrator adds them, or at their first sign-in when just-in-time provisioning is on.'));
  const card = h('section', { class: 'card list-card', 'aria-label': 'Users' }, table, empty);

  /** @param {User} user */
  const row = (user) => h('tr', { class: 'user-row', dataset: { id: user.id, role: user.role, enabled: String(user.enabled) } },
    h('td', { class: 'col-user' },
      h('span', { class: 'user-name' }, userLabel(user)),
      user.display_name && user.email ? h('span', { class: 'muted small block user-email' }, user.email) : null),
    h('td', { class: 'col-subject' }, h('code', { class: 'user-subject' }, user.name_id)),
    h('td', { class: 'col-role' }, h('span', { class: ['badge', user.role === 'tenant_admin' ? 'badge-type' : 'badge-neutral', 'user-role'] }, roles[user.role]?.title || user.role)),
    h('td', { class: 'col-state' }, user.enabled ? h('span', { class: 'badge badge-ok-soft user-state' }, 'Enabled') : h('span', { class: 'badge badge-warn user-state' }, 'Disabled')),
    h('td', { class: 'col-created-by' },
      user.created_by === 'jit'
        ? h('span', { class: 'badge badge-info created-by', title: 'Created at their first sign-in through the identity provider' }, 'Just in time')
        : h('span', { class: 'created-by', title: user.created_by }, actorName(user.created_by)),
      h('span', { class: 'muted small block' }, timeEl(user.created_at))),
    h('td', { class: 'col-last-sign-in' }, user.last_sign_in_at ? timeEl(user.last_sign_in_at) : h('span', { class: 'muted' }, 'Never')),
    readOnly ? null : h('td', { class: 'col-actions' },
      h('button', { type: 'button', class: 'btn btn-secondary btn-small edit-user', onclick: () => edit(user) },
        icon('edit'), 'Edit', h('span', { class: 'sr-only' }, ` ${userLabel(user)}`))));

  /** @param {User[]} list */
  const render = (list) => {
    replace(body, list.map(row));
    table.hidden = list.length === 0;
    empty.hidden = list.length > 0;
    replace(summary, `${list.length} ${list.length === 1 ? 'user' : 'users'}`);
  };

  /**
   * Reads the list again and shows it; focuses the row of `focusId` when it is there.
   * @param {string} [focusId]
   */
  const refresh = async (focusId) => {
    let list;
    try {
      list = await reload();
    } catch (e) {
      replace(banner, problemBanner('The users could not be loaded again.', [e instanceof Error ? e.message : String(e)]));
      banner.focus();
      return;
    }
    replace(banner);
    render(list);
    const target = focusId && /** @type {HTMLElement | null} */ (body.querySelector(`.user-row[data-id="${CSS.escape(focusId)}"] .edit-user`));
    if (target) target.focus();
    else if (addButton) addButton.focus();
  };

  /** @param {User} user */
  const edit = async (user) => {
    const outcome = await modal({
      title: 'Edit user',
      className: 'dialog-user',
      build: (/** @type {(outcome: EditOutcome | null) => void} */ close) => editUserForm({ tenant: tenant.id, user, roles, close }),
    });
    if (!outcome) return;
    if ('saved' in outcome) toast('Changes saved.');
    if ('deleted' in outcome) toast(`“${userLabel(outcome.deleted)}” was deleted.`);
    await refresh('deleted' in outcome ? undefined : user.id);
  };

  const add = async () => {
    const created = await modal({
      title: 'Add user',
      className: 'dialog-user',
      build: (/** @type {(user: User | null) => void} */ close) => addUserForm({ tenant: tenant.id, roles, close }),
    });
    if (!created) return;
    toast(`“${userLabel(created)}” was added.`);
    await refresh(created.id);
  };

  const addButton = readOnly ? null : h('button', { type: 'button', class: 'fab add-user', onclick: add }, icon('plus'), h('span', { class: 'fab-label' }, 'Add user'));
  const bottom = h('div', { class: 'bottom-bar' },
    readOnly ? h('p', { class: 'muted small' }, 'Read-only access: you can view users, not change them.') : addButton);
  const signOn = sso
    ? h('p', { class: 'notice sso-notice' }, icon('login'), `Users sign in with “${sso.name}”.`,
      sso.required ? ' This contact center’s API tokens cannot sign in to the admin screen.' : null)
    : h('p', { class: 'notice sso-notice sso-off' }, icon('alert'),
      'Single sign-on is off for this contact center: users cannot sign in until an Admin SSO account with single sign-on on is set up under ',
      h('a', { href: `#/t/${encodeURIComponent(tenant.id)}?type=sso` }, 'Integration Accounts'), '.');
  render(users);
  return h('div', { class: 'list-page' },
    signOn,
    h('div', { class: 'toolbar' }, summary),
    banner,
    card,
    bottom);
}
