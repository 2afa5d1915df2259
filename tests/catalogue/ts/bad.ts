// Must NOT type-check: each marked line is a mistake the generated types catch.
import { WebSocketMQ } from 'websocketmq';
import { ShopClient } from '../../../examples/shop/web/sdk/index.js';

export async function misuse(client: WebSocketMQ): Promise<void> {
  const api = new ShopClient(client);
  await api.ordersCreate({ sku: 5 }); // expect-error: sku is a string, qty is missing
  api.publishChatMessage({ author: 'ann', text: 'hi' }); // expect-error: the room comes first
  api.handleUiConfirm(() => ({ confirmed: 'yes' })); // expect-error: confirmed is a boolean
  api.subscribeOrdersUpdated((o) => o.quantity); // expect-error: Order has no quantity
}
