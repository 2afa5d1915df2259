// What every example page shares (bundled into each page by examples/build.py): element lookup
// that fails loudly, and the connection line (`#state`, `#client-id`) kept current from the
// client's open/close events.
import type { WebSocketMQ } from 'websocketmq';

/** The element with this id; throws if the page has none (a typo fails at once, not later). */
export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no #${id}`);
  return el;
}

/** The `<input>` with this id. */
export function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}

/** Show the connection state in `#state` (`data-state` for tests) and the client ID. */
export function showConnection(client: WebSocketMQ): void {
  client.onOpen = ({ clientId }) => {
    $('state').dataset['state'] = 'connected';
    $('state').textContent = 'connected';
    $('client-id').textContent = clientId;
  };
  client.onClose = () => {
    $('state').dataset['state'] = 'disconnected';
    $('state').textContent = 'disconnected';
  };
}
