// A read-only list page over a paginated API list (`{ data, nextCursor }`,
// newest first), with a status filter and a "Load more" button.

import { apiRequest } from './api.js';
import { badge, byId, h, icon, whileBusy } from './dom.js';
import { safeHttpUrl } from './format.js';
import { startShell } from './shell.js';

const PAGE_SIZE = 25;

/**
 * Start a list page. `renderRow(item)` returns a <tr>; `noun` is
 * `[singular, plural]` for the status line ("Showing 3 payments.").
 */
export async function startListPage({ apiPath, noun, renderRow }) {
  // `generation` changes with every reload, so a page that arrives after the filter changed is dropped.
  const state = { cursor: null, rowCount: 0, generation: 0 };
  const body = byId('list-body');
  const filter = byId('filter-status');
  const loadMore = byId('load-more');
  const headers = [...document.querySelectorAll('#list-table thead th')].map((th) => th.textContent.trim());

  async function load(reset) {
    if (reset) {
      state.generation += 1;
    }
    const generation = state.generation;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (filter.value) {
      query.set('status', filter.value);
    }
    if (!reset && state.cursor) {
      query.set('cursor', state.cursor);
    }

    const page = await apiRequest('GET', `${apiPath}?${query}`);
    if (generation !== state.generation) {
      return;
    }

    if (reset) {
      body.replaceChildren();
      state.rowCount = 0;
    }
    body.append(...page.data.map((item) => labelRow(renderRow(item), headers)));
    state.rowCount += page.data.length;
    state.cursor = page.nextCursor;

    loadMore.hidden = state.cursor === null;
    byId('list-empty').hidden = state.rowCount > 0;
    byId('page-status').textContent = describeCount(state.rowCount, noun, filter);
  }

  async function reloadFromStart() {
    byId('load-error').hidden = true;
    try {
      await load(true);
    } catch (error) {
      showLoadError(error);
    }
  }

  loadMore.addEventListener('click', async () => {
    const message = byId('load-more-error');
    message.textContent = '';
    try {
      await whileBusy(loadMore, 'Loading…', () => load(false));
    } catch (error) {
      message.textContent = error.message;
    }
  });
  filter.addEventListener('change', reloadFromStart);
  byId('filter-form').addEventListener('submit', (event) => event.preventDefault());

  try {
    if (!(await startShell())) {
      return;
    }
  } catch (error) {
    showLoadError(error);

    return;
  }

  await reloadFromStart();
}

/** Give a row and its cells their ARIA roles and column labels, which the narrow layout shows. */
function labelRow(row, headers) {
  row.setAttribute('role', 'row');
  [...row.cells].forEach((td, index) => {
    td.setAttribute('role', 'cell');
    td.dataset.label = headers[index] ?? '';
  });

  return row;
}

function describeCount(count, [singular, plural], filter) {
  const words = `${count} ${count === 1 ? singular : plural}`;
  const option = filter.selectedOptions[0];

  return filter.value && option ? `Showing ${words} with the status ${option.textContent}.` : `Showing ${words}.`;
}

function showLoadError(error) {
  byId('page-status').textContent = '';
  const panel = byId('load-error');
  panel.textContent = `The list could not be loaded: ${error.message}`;
  panel.hidden = false;
}

/**
 * Create a table cell; `className` marks numeric or wrapping cells. Several
 * parts share one wrapper, so the narrow layout keeps them in the value column.
 */
export function cell(content, className = undefined) {
  return h('td', { className }, Array.isArray(content) ? h('div', {}, ...content) : content);
}

/** Create a badge for a status from a table of `{ label, tone, icon }`. */
export function statusBadge(description) {
  return badge(description.label, description.tone, description.icon);
}

/** Create the "Test" marker shown beside objects made with test keys. */
export function testModeBadge() {
  return badge('Test', 'warning', 'flask');
}

/**
 * Create a link to a Stripe-hosted page that opens in a new tab, or null when
 * the URL is missing or not http(s). `context` is read only by screen readers.
 */
export function externalLink(url, text, context) {
  const href = safeHttpUrl(url);
  if (!href) {
    return null;
  }

  return h(
    'a',
    { href, target: '_blank', rel: 'noopener noreferrer' },
    text,
    h('span', { className: 'visually-hidden', text: ` ${context} (opens in a new tab)` }),
    icon('arrow'),
  );
}

/** Create a muted dash for an empty value. */
export function none(text = '—') {
  return h('span', { className: 'muted', text });
}
