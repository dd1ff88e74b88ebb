// @ts-check
// Server-Sent Events for every page that updates live: subscribes to a same-origin URL with
// EventSource (the session cookie goes along), hands each named event's JSON data to its
// handler, reconnects after a dropped connection (the browser sends the last event's id, so
// the server can go on from there) and says where it stands: "Live", "Reconnecting…" or
// "Disconnected" with a Retry button. A page passes its AbortSignal: when the page goes,
// the stream closes. The server ends a stream whose caller's token was revoked or whose
// session ended; the reconnection is then refused, and the stream asks whether the session
// still stands, so that the sign-in page shows rather than a dead page.

import { call, paths } from './api.js';
import { h, icon, replace } from './dom.js';

/** @typedef {'connecting' | 'live' | 'reconnecting' | 'closed'} StreamState */

/**
 * Reconnections the browser tries on its own before the stream gives up and offers Retry.
 * The server advises a few seconds between them.
 */
const MAX_RECONNECTS = 5;

/**
 * After a refused stream: when the session has ended, says so (the app shows the sign-in
 * page). A 401 says so by itself (see `call`); 204 is no session.
 */
async function checkSession() {
  const reply = await call('GET', paths.session());
  if (reply.status === 204) window.dispatchEvent(new CustomEvent('patchbay:signed-out'));
}

/**
 * Subscribes to the events of `url`.
 * @param {object} args
 * @param {string} args.url
 * @param {Record<string, (data: any) => void>} args.handlers By event name; each gets the event's JSON data.
 * @param {AbortSignal} args.signal Closes the stream when it aborts (the page went away).
 * @param {(state: StreamState) => void} [args.onState]
 */
export function subscribe({ url, handlers, signal, onState }) {
  /** @type {EventSource | null} */
  let source = null;
  let failures = 0;
  /** @param {StreamState} state */
  const tell = (state) => { if (onState) onState(state); };

  const open = () => {
    close();
    failures = 0;
    tell('connecting');
    const es = new EventSource(url);
    source = es;
    es.addEventListener('open', () => {
      failures = 0;
      tell('live');
    });
    es.addEventListener('error', () => {
      if (source !== es) return;
      failures += 1;
      // A refused stream (401, 403, 404, 429) closes at once; a dropped one reconnects by itself.
      if (es.readyState === EventSource.CLOSED || failures > MAX_RECONNECTS) {
        close();
        tell('closed');
        if (!signal.aborted) void checkSession();
      } else {
        tell('reconnecting');
      }
    });
    for (const [name, handle] of Object.entries(handlers)) {
      es.addEventListener(name, (event) => {
        if (source !== es) return;
        let data;
        try {
          data = JSON.parse(/** @type {MessageEvent} */ (event).data);
        } catch {
          return;
        }
        handle(data);
      });
    }
  };

  const close = () => {
    if (source) source.close();
    source = null;
  };

  if (signal.aborted) return { retry: () => {}, close };
  signal.addEventListener('abort', close, { once: true });
  open();
  return {
    /** Opens the stream again (after it gave up). */
    retry: () => { if (!signal.aborted) open(); },
    close,
  };
}

/**
 * The indicator of a stream's state, with a Retry button once it gave up. `set` shows a
 * new state; the words are announced politely to screen readers.
 * @param {() => void} retry
 */
export function streamStatus(retry) {
  const text = h('span', { class: 'stream-text' });
  const dot = h('span', { class: 'stream-dot', 'aria-hidden': 'true' });
  const button = h('button', { type: 'button', class: 'btn btn-secondary btn-small stream-retry', hidden: true }, icon('refresh'), 'Retry');
  button.addEventListener('click', () => {
    retry();
    text.focus();
  });
  const element = h('div', { class: 'stream-status', role: 'status', 'aria-live': 'polite', dataset: { state: 'connecting' } }, dot, text, button);
  text.setAttribute('tabindex', '-1');
  /** @param {StreamState} state */
  const set = (state) => {
    element.dataset.state = state;
    const words = {
      connecting: 'Connecting…',
      live: 'Live',
      reconnecting: 'Reconnecting…',
      closed: 'Disconnected — updates stopped.',
    }[state];
    replace(text, words);
    button.hidden = state !== 'closed';
  };
  set('connecting');
  return { element, set };
}
