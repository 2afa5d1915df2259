// Type-checks: the generated shop SDK used as documented (tests/test_catalogue_ts.py).
import { WebSocketMQ } from 'websocketmq';
import { OutOfStock, ShopClient } from '../../../examples/shop/web/sdk/index.js';
import type { Order, UiConfirmResponse } from '../../../examples/shop/web/sdk/index.js';

export async function use(client: WebSocketMQ): Promise<number> {
  const api = new ShopClient(client, { onInvalid: (error) => console.warn(error.details) });
  const order: Order = await api.ordersCreate({ sku: 'ABC-123', qty: 2 }, { timeoutMs: 5000 });
  api.subscribeOrdersUpdated((o: Order) => console.log(o.status));
  api.publishChatMessage('lobby', { author: 'ann', text: 'hi' });
  api.handleUiConfirm((body): UiConfirmResponse => ({ confirmed: body.orderId === order.id }));
  try {
    await api.ordersCreate({ sku: 'ABC-123', qty: 99 });
  } catch (error) {
    if (error instanceof OutOfStock) return 0;
  }
  return order.qty;
}
