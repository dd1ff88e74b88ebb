// @ts-check
// The service provider's tenants (contact centers): the list with search and counts of
// accounts and failing accounts, creating one, and a tenant's settings page: its name, the
// gated integration types enabled for it, and deleting it with a typed confirmation that
// says what goes with it. Every change is made at the version it was read at.

import { call, paths } from './api.js';
import { modal } from './dialogs.js';
import { busy, h, icon, replace, timeEl, toast } from './dom.js';
import { fieldShell, showReplyErrors } from './form.js';
import { sortableTable } from './table.js';

/**
 * @typedef {import('./api.js').Tenant} Tenant
 * @typedef {import('./api.js').TenantListItem} TenantListItem
 * @typedef {import('./api.js').TenantContents} TenantContents
 * @typedef {import('./api.js').IntegrationType} IntegrationType
 * @typedef {import('./api.js').Account} Account
 * @typedef {import('./table.js').SortOrder} SortOrder
 */

/** @param {string} t */
const tenantHref = (t) => `#/t/${encodeURIComponent(t)}`;
/** @param {string} t */
export const settingsHref = (t) => `${tenantHref(t)}/settings`;

/**
 * @param {number} n
 * @param {string} one
 * @param {string} [many]
 */
function plural(n, one, many) {
  return `${n} ${n === 1 ? one : (many || `${one}s`)}`;
}

/**
 * A text field of a tenant form: its shell, described by its help and error texts.
 * @param {{key: string, label: string, help?: string}} field
 * @param {string} id
 * @param {number} maxlength
 */
function textField(field, id, maxlength) {
  const input = h('input', { type: 'text', id, class: 'input', autocomplete: 'off', spellcheck: 'false', maxlength });
  const shell = fieldShell(field, id, input);
  shell.describe(input);
  return { shell, input };
}

/**
 * The labels of the tenant's gated types, in the catalog's order.
 * @param {IntegrationType[]} catalog
 * @param {string[]} keys
 */
function typeLabels(catalog, keys) {
  return catalog.filter((t) => keys.includes(t.key)).map((t) => t.label);
}

/**
 * The Tenants page's body: a search over names and ids (kept in the URL with the sort
 * order) above a sortable table, and the button that creates a tenant.
 * @param {object} args
 * @param {TenantListItem[]} args.tenants
 * @param {IntegrationType[]} args.catalog
 * @param {string} args.search
 * @param {SortOrder | null} args.sort
 * @param {(search: string, sort: SortOrder | null) => void} args.onQuery Hears of a new search or order.
 * @param {() => void} args.onCreate
 */
export function tenantsView({ tenants, catalog, search, sort, onQuery, onCreate }) {
  const input = h('input', { type: 'search', id: 'tenant-search', class: 'input', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'tenant-count' });
  input.value = search;
  const summary = h('p', { class: 'toolbar-summary muted', id: 'tenant-count', role: 'status' });
  const none = h('p', { class: 'muted no-match', hidden: true }, 'No contact center matches the search.');
  let order = sort;
  /** @type {import('./table.js').Column<TenantListItem>[]} */
  const columns = [
    { key: 'name', label: 'Contact center', rowHeader: true, sortBy: (t) => t.name, cell: (t) => h('a', { class: 'tenant-link', href: tenantHref(t.id), dataset: { tenant: t.id } }, t.name) },
    { key: 'id', label: 'Id', sortBy: (t) => t.id, cell: (t) => h('code', {}, t.id) },
    { key: 'accounts', label: 'Accounts', sortBy: (t) => t.account_count, cell: (t) => h('span', { class: 'account-count' }, String(t.account_count)) },
    {
      key: 'failing',
      label: 'Failing',
      sortBy: (t) => t.failing_account_count,
      cell: (t) => t.failing_account_count
        ? h('a', { class: 'badge badge-failed failing-count', href: tenantHref(t.id), title: 'Accounts whose last connection test failed' }, icon('alert'), String(t.failing_account_count))
        : h('span', { class: 'muted failing-count' }, '0'),
    },
    {
      key: 'types',
      label: 'Gated types enabled',
      cell: (t) => {
        const labels = typeLabels(catalog, t.enabled_types);
        return labels.length ? labels.map((l) => h('span', { class: 'badge badge-info' }, l)) : h('span', { class: 'muted' }, 'None');
      },
    },
    { key: 'created', label: 'Created', sortBy: (t) => t.created_at, cell: (t) => timeEl(t.created_at) },
  ];
  const table = sortableTable({
    label: 'Contact centers',
    columns,
    rows: tenants,
    sort,
    tableClass: 'tenants-table',
    rowData: (t) => ({ tenant: t.id }),
    onSort: (next) => {
      order = next;
      onQuery(input.value.trim(), order);
    },
  });
  const render = () => {
    const text = input.value.trim().toLowerCase();
    const shown = tenants.filter((t) => !text || t.name.toLowerCase().includes(text) || t.id.includes(text));
    table.update(shown);
    table.element.hidden = shown.length === 0;
    none.hidden = shown.length > 0 || tenants.length === 0;
    replace(summary, text ? `${shown.length} of ${plural(tenants.length, 'contact center')}` : plural(tenants.length, 'contact center'));
  };
  input.addEventListener('input', () => {
    render();
    onQuery(input.value.trim(), order);
  });
  render();
  const add = h('button', { type: 'button', class: 'fab add-tenant', onclick: onCreate }, icon('plus'), h('span', { class: 'fab-label' }, 'Add contact center'));
  const empty = h('section', { class: 'empty card' },
    h('div', { class: 'empty-icon' }, icon('building')),
    h('h2', {}, 'No contact centers yet'),
    h('p', {}, 'A contact center (tenant) holds its own integration accounts, recordings, users and tokens. Add the first one with the “+” button.'));
  return h('div', { class: 'list-page' },
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'toolbar-field' }, h('label', { for: 'tenant-search', class: 'toolbar-label' }, 'Search'),
        h('div', { class: 'search-box' }, icon('search'), input)),
      summary),
    tenants.length ? h('section', { class: 'card list-card', 'aria-label': 'Contact centers' }, table.element, none) : empty,
    h('div', { class: 'bottom-bar' }, add));
}

/**
 * The dialog that creates a tenant; resolves with it, or null when dismissed.
 * @returns {Promise<Tenant | null>}
 */
export function createTenantDialog() {
  return modal({
    title: 'Add contact center',
    className: 'dialog-tenant',
    build: (/** @type {(tenant: Tenant | null) => void} */ close) => {
      const fields = {
        id: textField({ key: 'id', label: 'Id', help: 'Lowercase letters, digits and hyphens, starting with a letter or digit. It appears in addresses and cannot be changed later.' }, 'new-tenant-id', 63),
        name: textField({ key: 'name', label: 'Name', help: 'How the contact center is shown; the id when left empty.' }, 'new-tenant-name', 200),
      };
      fields.id.shell.setRequired(true);
      const banner = h('div', { class: 'banner-host', tabindex: '-1' });
      const submit = h('button', { type: 'submit', class: 'btn btn-primary save' }, 'Add contact center');
      const form = h('form', { class: 'tenant-form', id: 'new-tenant-form', novalidate: true },
        banner,
        fields.id.shell.el,
        fields.name.shell.el,
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-secondary cancel', onclick: () => close(null) }, 'Cancel'),
          submit));
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        replace(banner);
        for (const f of Object.values(fields)) f.shell.setError(null, f.input);
        const id = fields.id.input.value.trim();
        if (!id) {
          fields.id.shell.setError('Enter the contact center’s id.', fields.id.input);
          fields.id.input.focus();
          return;
        }
        const name = fields.name.input.value.trim();
        busy(submit, true);
        const reply = await call('POST', paths.tenants(), { body: { id, name: name || undefined } });
        busy(submit, false);
        if (reply.ok) {
          close(reply.body);
          return;
        }
        if (reply.status === 409) {
          fields.id.shell.setError(`A contact center with the id “${id}” already exists.`, fields.id.input);
          fields.id.input.focus();
          return;
        }
        showReplyErrors(fields, reply, banner, 'The contact center was not added.');
      });
      return form;
    },
  });
}

/**
 * @param {number} current
 * @param {number} opened
 * @param {() => void} onReload
 */
function staleBanner(current, opened, onReload) {
  return h('div', { class: 'banner banner-stale', role: 'alert' }, icon('alert'),
    h('div', {},
      h('strong', {}, 'Someone else changed this contact center after you opened it.'),
      h('p', {}, `Nothing was changed or overwritten. It is now at version ${current}; you opened version ${opened}. Reload to see its current settings, then make your change again.`),
      h('div', { class: 'banner-actions' },
        h('button', { type: 'button', class: 'btn btn-primary btn-small reload', onclick: onReload }, icon('refresh'), 'Reload'))));
}

/**
 * The tenant settings page's body, for the service provider: rename, gated types, delete.
 * @param {object} args
 * @param {Tenant} args.tenant
 * @param {IntegrationType[]} args.catalog
 * @param {Account[]} args.accounts The tenant's accounts (the gated types they use).
 * @param {(tenant: Tenant) => void} args.onChanged The tenant as saved.
 * @param {() => void} args.onDeleted
 * @param {() => void} args.onReload
 */
export function tenantSettingsView({ tenant, catalog, accounts, onChanged, onDeleted, onReload }) {
  let current = tenant;
  const banner = h('div', { class: 'banner-host', tabindex: '-1' });
  /** @param {number | undefined} version */
  const stale = (version) => {
    replace(banner, staleBanner(version || current.version + 1, current.version, onReload));
    banner.focus();
  };

  // Name.
  const name = textField({ key: 'name', label: 'Name', help: 'How the contact center is shown everywhere. Its id stays the same.' }, 'tenant-name', 200);
  name.input.value = tenant.name;
  name.shell.setRequired(true);
  const save = h('button', { type: 'submit', class: 'btn btn-primary save-name' }, 'Rename');
  const nameForm = h('form', { class: 'tenant-name-form', novalidate: true }, name.shell.el, h('div', { class: 'form-actions' }, save));
  nameForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(banner);
    name.shell.setError(null, name.input);
    const value = name.input.value.trim();
    if (!value) {
      name.shell.setError('Enter a name.', name.input);
      name.input.focus();
      return;
    }
    if (value === current.name) {
      toast('The name is unchanged.');
      return;
    }
    busy(save, true);
    const reply = await call('PUT', paths.tenant(current.id), { body: { name: value }, ifMatch: current.version });
    busy(save, false);
    if (reply.ok) {
      current = reply.body;
      toast(`Renamed to “${current.name}”.`);
      onChanged(current);
      return;
    }
    if (reply.status === 412) return stale(reply.body && reply.body.current_version);
    showReplyErrors({ name }, reply, banner, 'The contact center was not renamed.');
    return undefined;
  });

  // Gated types.
  const gated = catalog.filter((t) => t.gated);
  /** @param {IntegrationType} type */
  const inUse = (type) => accounts.filter((a) => a.type === type.key).length;
  const switches = gated.map((type) => {
    const id = `gated-${type.key}`;
    const box = h('input', { type: 'checkbox', role: 'switch', id, class: 'switch-input', checked: current.enabled_types.includes(type.key), dataset: { type: type.key } });
    const used = inUse(type);
    const effect = h('p', { class: 'field-help', id: `${id}-help` });
    const error = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
    const explain = () => {
      const on = current.enabled_types.includes(type.key);
      box.disabled = on && used > 0;
      replace(effect, on
        ? (used
          ? `On. ${plural(used, `${type.label} account`)} ${used === 1 ? 'uses' : 'use'} it: it can be turned off only after ${used === 1 ? 'that account is' : 'those accounts are'} deleted.`
          : `On: the contact center’s administrators can add ${type.label} accounts. Turning it off hides the type from them; no account uses it now.`)
        : `Off: ${type.label} is not offered to the contact center. Turning it on lets its administrators add ${type.label} accounts.`);
      box.setAttribute('aria-describedby', error.hidden ? effect.id : `${effect.id} ${error.id}`);
    };
    box.addEventListener('change', async () => {
      error.hidden = true;
      replace(banner);
      const wanted = box.checked
        ? [...current.enabled_types, type.key]
        : current.enabled_types.filter((k) => k !== type.key);
      box.disabled = true;
      const reply = await call('PUT', paths.tenant(current.id), { body: { enabled_types: wanted }, ifMatch: current.version });
      box.disabled = false;
      if (reply.ok) {
        current = reply.body;
        toast(`${type.label} is ${box.checked ? 'on' : 'off'} for ${current.name}.`);
        onChanged(current);
        refreshAll();
        box.focus();
        return;
      }
      box.checked = !box.checked;
      if (reply.status === 412) {
        stale(reply.body && reply.body.current_version);
        return;
      }
      error.textContent = reply.status === 409
        ? `${type.label} is still used by accounts of this contact center: delete them before turning it off.`
        : reply.message;
      error.hidden = false;
      explain();
      box.focus();
    });
    explain();
    return {
      explain,
      el: h('div', { class: 'switch-row', dataset: { type: type.key } },
        h('div', { class: 'switch-text' },
          h('label', { for: id, class: 'field-label' }, type.label),
          h('p', { class: 'muted small' }, type.description.split('. ')[0].replace(/\.?$/, '.')),
          effect, error),
        box),
    };
  });
  const refreshAll = () => switches.forEach((s) => s.explain());

  // Delete.
  const remove = h('button', { type: 'button', class: 'btn btn-danger-outline delete-tenant' }, icon('trash'), 'Delete contact center');
  remove.addEventListener('click', async () => {
    const deleted = await deleteTenantDialog(current);
    if (deleted) onDeleted();
  });

  return h('div', { class: 'settings-page' },
    banner,
    h('section', { class: 'card settings-card', 'aria-labelledby': 'name-title' },
      h('h2', { class: 'card-title', id: 'name-title' }, 'Name'),
      h('dl', { class: 'meta' }, h('dt', {}, 'Id'), h('dd', {}, h('code', {}, tenant.id)), h('dt', {}, 'Created'), h('dd', {}, timeEl(tenant.created_at))),
      nameForm),
    h('section', { class: 'card settings-card', 'aria-labelledby': 'gated-title' },
      h('h2', { class: 'card-title', id: 'gated-title' }, 'Gated integration types'),
      h('p', { class: 'muted' }, 'These types are offered to a contact center only when you turn them on. Each change applies at once.'),
      h('div', { class: 'switch-list' }, switches.map((s) => s.el))),
    h('section', { class: 'card settings-card danger-zone', 'aria-labelledby': 'delete-title' },
      h('h2', { class: 'card-title', id: 'delete-title' }, 'Delete'),
      h('p', {}, 'Deleting the contact center removes everything it has, at once and for good. Its audit trail is kept for the service provider.'),
      remove));
}

/**
 * Asks the server what deleting the tenant removes, and deletes it once its id is typed.
 * Resolves true when it was deleted.
 * @param {Tenant} tenant
 */
async function deleteTenantDialog(tenant) {
  const answer = await modal({
    title: `Delete ${tenant.name}?`,
    className: 'dialog-delete-tenant',
    build: (/** @type {(done: boolean | null) => void} */ close) => {
      const what = h('div', { class: 'delete-contents' }, h('p', { class: 'muted loading' }, 'Counting what would be removed…'));
      const input = h('input', { type: 'text', id: 'confirm-tenant-id', class: 'input', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'confirm-tenant-help' });
      const error = h('p', { class: 'field-error', id: 'confirm-tenant-error', role: 'alert', hidden: true });
      const confirm = h('button', { type: 'submit', class: 'btn btn-danger confirm-delete', disabled: true }, icon('trash'), 'Delete for good');
      input.addEventListener('input', () => { confirm.disabled = input.value.trim() !== tenant.id; });
      const form = h('form', { class: 'delete-tenant-form', novalidate: true },
        what,
        h('div', { class: 'field' },
          h('label', { for: 'confirm-tenant-id', class: 'field-label' }, 'Type the contact center’s id to confirm'),
          input,
          h('p', { class: 'field-help', id: 'confirm-tenant-help' }, 'The id is ', h('code', {}, tenant.id), '.'),
          error),
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'btn btn-secondary cancel', onclick: () => close(null) }, 'Cancel'),
          confirm));
      call('GET', paths.tenantContents(tenant.id)).then((reply) => {
        if (!reply.ok) {
          replace(what, h('p', { class: 'error-text' }, `What would be removed could not be counted: ${reply.message}`));
          return;
        }
        /** @type {TenantContents} */
        const c = reply.body;
        replace(what,
          h('p', {}, 'This removes, for good:'),
          h('ul', { class: 'contents-list' },
            h('li', { dataset: { what: 'accounts' } }, plural(c.accounts, 'integration account'), ' with their secrets and history'),
            h('li', { dataset: { what: 'export_jobs' } }, plural(c.export_jobs, 'recording export job'), ' with their runs'),
            h('li', { dataset: { what: 'recordings' } }, plural(c.recordings, 'recording'), ' with their audio kept here'),
            h('li', { dataset: { what: 'users' } }, plural(c.users, 'user'), ' who sign in through single sign-on'),
            h('li', { dataset: { what: 'tokens' } }, plural(c.tokens, 'API token'), ' that still work (they stop at once)')),
          h('p', { class: 'muted small' }, 'Recordings already exported to an Amazon S3 bucket stay in that bucket.'));
      });
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (input.value.trim() !== tenant.id) return;
        error.hidden = true;
        busy(confirm, true);
        const reply = await call('DELETE', paths.tenant(tenant.id));
        busy(confirm, false);
        if (reply.ok) {
          close(true);
          return;
        }
        error.textContent = `The contact center was not deleted: ${reply.message}`;
        error.hidden = false;
        input.focus();
      });
      return form;
    },
  });
  return answer === true;
}
