// @ts-check
// API tokens: the list (role, contact center, created, last used, revoked ones marked),
// minting a token (its value shown once, with a copy button) and revoking one. The service
// provider sees and mints every token; a tenant admin those of their own contact center,
// of the roles that belong to a contact center.

import { call, paths } from './api.js';
import { confirmDialog, modal } from './dialogs.js';
import { busy, h, icon, replace, timeEl, toast } from './dom.js';
import { copyButton, fieldShell, showReplyErrors } from './form.js';
import { sortableTable } from './table.js';

/**
 * @typedef {import('./api.js').Token} Token
 * @typedef {import('./api.js').TokenCreated} TokenCreated
 * @typedef {import('./api.js').Titled} Titled
 * @typedef {import('./api.js').Principal} Principal
 */

/**
 * The roles `principal` may mint tokens of, as the API decides (`Access::manage_token`):
 * the service provider every role; a tenant admin the roles that belong to a tenant.
 * @param {Principal} principal
 * @param {Record<string, Titled>} roles
 * @param {string[]} tenantBound
 */
export function mintableRoles(principal, roles, tenantBound) {
  if (principal.role === 'sp_admin') return Object.keys(roles);
  if (principal.role === 'tenant_admin') return Object.keys(roles).filter((r) => tenantBound.includes(r));
  return [];
}

/**
 * The dialog that mints a token; shows its value once, then resolves with it (null when
 * dismissed before minting).
 * @param {object} args
 * @param {string[]} args.mintable The roles offered, in the API document's order.
 * @param {Record<string, Titled>} args.roles
 * @param {string[]} args.tenantBound
 * @param {string | null} args.tenant The contact center the token is for; null lets the caller choose.
 * @param {{id: string, name: string}[]} args.tenants The contact centers to choose from.
 * @returns {Promise<TokenCreated | null>}
 */
function mintDialog({ mintable, roles, tenantBound, tenant, tenants }) {
  return modal({
    title: 'New API token',
    className: 'dialog-token',
    build: (/** @type {(created: TokenCreated | null) => void} */ close) => {
      const body = h('div', { class: 'mint' });
      const nameInput = h('input', { type: 'text', id: 'token-name', class: 'input', autocomplete: 'off', spellcheck: 'false', maxlength: 100 });
      const name = { shell: fieldShell({ key: 'name', label: 'Name', help: 'Says who or what uses the token, e.g. “Agent desktop” or “Jane Doe”.' }, 'token-name', nameInput), input: nameInput };
      name.shell.setRequired(true);
      name.shell.describe(nameInput);
      const roleInput = h('select', { id: 'token-role', class: 'input' },
        mintable.map((r) => h('option', { value: r }, roles[r]?.title || r)));
      roleInput.value = mintable.includes('tenant_viewer') ? 'tenant_viewer' : mintable[0];
      const roleHelp = h('p', { class: 'field-help', id: 'token-role-about' });
      const role = { shell: fieldShell({ key: 'role', label: 'Role' }, 'token-role', roleInput), input: roleInput };
      role.shell.el.append(roleHelp);
      const tenantInput = h('select', { id: 'token-tenant', class: 'input' },
        tenants.map((t) => h('option', { value: t.id }, `${t.name} (${t.id})`)));
      if (tenant) tenantInput.value = tenant;
      const tenantField = { shell: fieldShell({ key: 'tenant', label: 'Contact center' }, 'token-tenant', tenantInput), input: tenantInput };
      tenantField.shell.describe(tenantInput);
      const describeRole = () => {
        const bound = tenantBound.includes(roleInput.value);
        replace(roleHelp, roles[roleInput.value]?.description || '');
        roleInput.setAttribute('aria-describedby', roleHelp.id);
        tenantField.shell.el.hidden = !bound || tenant !== null;
        tenantField.shell.setRequired(bound);
      };
      roleInput.addEventListener('change', describeRole);
      describeRole();
      /** @type {Record<string, {shell: import('./form.js').Shell, input: HTMLInputElement | HTMLSelectElement}>} */
      const fields = { name, role, tenant: tenantField };
      const banner = h('div', { class: 'banner-host', tabindex: '-1' });
      const submit = h('button', { type: 'submit', class: 'btn btn-primary mint-token' }, 'Create token');
      const form = h('form', { class: 'token-form', id: 'new-token-form', novalidate: true },
        banner,
        name.shell.el,
        role.shell.el,
        tenantField.shell.el,
        tenant ? h('p', { class: 'muted small' }, 'For the contact center ', h('code', {}, tenant), '.') : null,
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-secondary cancel', onclick: () => close(null) }, 'Cancel'),
          submit));
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        replace(banner);
        for (const f of Object.values(fields)) f.shell.setError(null, f.input);
        if (!nameInput.value.trim()) {
          name.shell.setError('Enter a name for the token.', nameInput);
          nameInput.focus();
          return;
        }
        const bound = tenantBound.includes(roleInput.value);
        const request = { name: nameInput.value.trim(), role: roleInput.value, tenant: bound ? (tenant || tenantInput.value) : undefined };
        busy(submit, true);
        const reply = await call('POST', paths.tokens(), { body: request });
        busy(submit, false);
        if (reply.ok) {
          showCreated(reply.body);
          return;
        }
        showReplyErrors(fields, reply, banner, 'The token was not created.');
      });
      /** @param {TokenCreated} created */
      const showCreated = (created) => {
        const value = h('input', { id: 'new-token-value', class: 'input mono once-value', readOnly: true, spellcheck: 'false', 'aria-describedby': 'new-token-warning' });
        value.value = created.token;
        const done = h('button', { type: 'button', class: 'btn btn-primary done', onclick: () => close(created) }, 'Done');
        replace(body,
          h('div', { class: 'once-box token-once' },
            h('label', { for: 'new-token-value' }, `The token “${created.name}”`),
            h('div', { class: 'once-row' }, value, copyButton(value, 'token')),
            h('p', { class: 'once-warning', id: 'new-token-warning' }, icon('alert'),
              h('strong', {}, 'Copy it now: it will not be shown again.'),
              ' patchbay keeps only a fingerprint of it; a lost token cannot be recovered, only revoked and replaced.')),
          h('div', { class: 'dialog-actions' }, done));
        value.focus();
        value.select();
      };
      replace(body, form);
      return body;
    },
  });
}

/**
 * The tokens page's body.
 * @param {object} args
 * @param {Principal} args.principal
 * @param {Token[]} args.tokens The tokens to list.
 * @param {Record<string, Titled>} args.roles How each role is named.
 * @param {string[]} args.tenantBound The roles whose tokens belong to a tenant.
 * @param {string | null} args.tenant The contact center whose tokens these are; null for all.
 * @param {{id: string, name: string}[]} args.tenants The contact centers a new token may be for.
 * @param {() => Promise<Token[]>} args.reload
 */
export function tokensView({ principal, tokens, roles, tenantBound, tenant, tenants, reload }) {
  // Within a contact center, only the roles whose tokens belong to one.
  const mintable = mintableRoles(principal, roles, tenantBound).filter((r) => !tenant || tenantBound.includes(r));
  const canManage = mintable.length > 0;
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  const summary = h('p', { class: 'toolbar-summary muted', role: 'status' });
  const names = Object.fromEntries(tenants.map((t) => [t.id, t.name]));
  /** @type {import('./table.js').Column<Token>[]} */
  const columns = [
    { key: 'name', label: 'Name', rowHeader: true, sortBy: (t) => t.name, cell: (t) => h('span', { class: 'token-name' }, t.name) },
    { key: 'role', label: 'Role', sortBy: (t) => roles[t.role]?.title || t.role, cell: (t) => h('span', { class: ['badge', t.role === 'sp_admin' ? 'badge-type' : 'badge-neutral', 'token-role'] }, roles[t.role]?.title || t.role) },
  ];
  if (!tenant) {
    columns.push({
      key: 'tenant',
      label: 'Contact center',
      sortBy: (t) => t.tenant_id,
      cell: (t) => t.tenant_id ? h('span', { title: t.tenant_id }, names[t.tenant_id] || t.tenant_id) : h('span', { class: 'muted' }, 'All (service provider)'),
    });
  }
  columns.push(
    { key: 'created', label: 'Created', sortBy: (t) => t.created_at, cell: (t) => timeEl(t.created_at) },
    { key: 'last-used', label: 'Last used', sortBy: (t) => t.last_used_at, cell: (t) => t.last_used_at ? h('span', { class: 'last-used' }, timeEl(t.last_used_at)) : h('span', { class: 'muted last-used' }, 'Not yet') },
    {
      key: 'state',
      label: 'State',
      sortBy: (t) => (t.revoked_at ? 1 : 0),
      cell: (t) => t.revoked_at
        ? h('span', { class: 'token-state' }, h('span', { class: 'badge badge-warn' }, 'Revoked'), ' ', h('span', { class: 'muted small' }, timeEl(t.revoked_at)))
        : h('span', { class: 'badge badge-ok-soft token-state' }, 'Active'),
    },
  );
  if (canManage) {
    columns.push({
      key: 'actions',
      label: 'Actions',
      cell: (t) => t.revoked_at || t.id === principal.token_id ? null
        : h('button', { type: 'button', class: 'btn btn-danger-outline btn-small revoke', onclick: () => revoke(t) },
          'Revoke', h('span', { class: 'sr-only' }, ` ${t.name}`)),
    });
  }
  const table = sortableTable({
    label: 'API tokens',
    columns,
    rows: tokens,
    sort: { key: 'created', descending: true },
    tableClass: 'tokens-table',
    rowData: (t) => ({ id: t.id, state: t.revoked_at ? 'revoked' : 'active' }),
  });
  const empty = h('p', { class: 'muted no-match tokens-empty' }, 'No tokens yet.');
  /** @param {Token[]} list */
  const render = (list) => {
    table.update(list);
    table.element.hidden = list.length === 0;
    empty.hidden = list.length > 0;
    const active = list.filter((t) => !t.revoked_at).length;
    replace(summary, `${active} active, ${list.length - active} revoked`);
  };

  /** @param {string} [focusId] */
  const refresh = async (focusId) => {
    let list;
    try {
      list = await reload();
    } catch (e) {
      replace(banner, h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'), h('div', {}, h('strong', {}, 'The tokens could not be loaded again.'), h('p', {}, e instanceof Error ? e.message : String(e)))));
      banner.focus();
      return;
    }
    replace(banner);
    render(list);
    const row = focusId && /** @type {HTMLElement | null} */ (table.element.querySelector(`tr[data-id="${CSS.escape(focusId)}"] th`));
    if (row) {
      row.tabIndex = -1;
      row.focus();
    } else if (addButton) {
      addButton.focus();
    }
  };

  /** @param {Token} token */
  const revoke = async (token) => {
    const yes = await confirmDialog({
      title: `Revoke “${token.name}”?`,
      message: 'Whatever uses this token stops working at once, and its admin-screen sessions end. A revoked token cannot be used again.',
      detail: 'The token stays in this list, marked as revoked.',
      confirmLabel: 'Revoke token',
      danger: true,
    });
    if (!yes) return;
    const reply = await call('DELETE', paths.token(token.id));
    if (!reply.ok) {
      replace(banner, h('div', { class: 'banner banner-error', role: 'alert' }, icon('alert'), h('div', {}, h('strong', {}, 'The token was not revoked.'), h('p', {}, reply.message))));
      banner.focus();
      return;
    }
    toast(`“${token.name}” was revoked.`);
    await refresh(token.id);
  };

  const mint = async () => {
    const created = await mintDialog({ mintable, roles, tenantBound, tenant, tenants });
    if (!created) return;
    await refresh(created.id);
  };

  const addButton = canManage ? h('button', { type: 'button', class: 'fab add-token', onclick: mint }, icon('plus'), h('span', { class: 'fab-label' }, 'New token')) : null;
  render(tokens);
  return h('div', { class: 'list-page' },
    h('div', { class: 'toolbar' }, summary),
    banner,
    h('section', { class: 'card list-card', 'aria-label': 'API tokens' }, table.element, empty),
    h('div', { class: 'bottom-bar' }, addButton));
}
