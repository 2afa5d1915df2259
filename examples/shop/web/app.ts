// The shop's browser page: the generated ShopClient (web/sdk, from shop.wsmq.yaml) on the
// websocketmq client, bundled by examples/build.py into web/shop.js. Both directions: the page requests
// orders.create and publishes chat messages; the server publishes orders.updated and asks the
// page ui.confirm.
import { WebSocketMQ, isWsmqError } from 'websocketmq';
import { $, input, showConnection } from '../../page.js';
import { OutOfStock, ShopClient } from './sdk/index.js';
import type { Order } from './sdk/index.js';

function log(text: string): void {
  const li = document.createElement('li');
  li.textContent = text;
  $('log').prepend(li);
}

const client = new WebSocketMQ(`ws://${location.host}/ws`);
const api = new ShopClient(client, {
  onInvalid: (error) => log(`dropped an invalid message: ${JSON.stringify(error.details)}`),
});

showConnection(client);

function render(order: Order): void {
  let row = document.querySelector<HTMLTableRowElement>(`tr[data-id="${order.id}"]`);
  if (row === null) {
    row = document.createElement('tr');
    row.dataset['id'] = order.id;
    $('orders').append(row);
  }
  row.dataset['status'] = order.status;
  row.replaceChildren(...[order.id, order.sku, String(order.qty), order.status].map((text) => {
    const td = document.createElement('td');
    td.textContent = text;
    return td;
  }));
}

api.subscribeOrdersUpdated((order) => {
  render(order);
  log(`orders.updated: ${order.id} is ${order.status}`);
});

api.handleUiConfirm((question) => {
  $('question').textContent = question.question;
  const confirmed = input('auto-confirm').checked;
  log(`ui.confirm for ${question.orderId}: answered ${confirmed}`);
  return { confirmed, note: 'answered by the page' };
});

$('order-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const result = $('result');
  result.className = 'pending';
  // The form's values are strings; the catalogue says qty is an integer: convert, as typed.
  api
    .ordersCreate({ sku: input('sku').value, qty: Number(input('qty').value) })
    .then((order) => {
      render(order);
      result.className = 'ok';
      result.textContent = `placed ${order.id}`;
    })
    .catch((error: unknown) => {
      result.className = 'error';
      if (error instanceof OutOfStock) {
        result.textContent = `out of stock: ${error.message}`;
      } else if (isWsmqError(error)) {
        result.textContent = `${error.code}: ${JSON.stringify(error.details)}`;
      } else {
        result.textContent = String(error);
      }
      result.dataset['code'] = isWsmqError(error) ? error.code : 'unknown';
    });
});

$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  api.publishChatMessage(input('room').value, { author: 'page', text: input('chat-text').value });
  log(`chat sent to ${input('room').value}`);
});

void client.connect();
