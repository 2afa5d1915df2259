// Type-checked by test/package.test.mjs: the package's types as an ES-module user sees them.
import { WebSocketMQ, WsmqError, type ConnectionStatus } from 'websocketmq';

export async function echo(url: string): Promise<string> {
  const client = new WebSocketMQ(url);
  const status: ConnectionStatus = client.status;
  const answer = await client.request<{ message: string }>('example.echo', { message: status.state });
  if (!(new WsmqError('TIMEOUT', 'x') instanceof Error)) throw new Error('unreachable');
  return answer.message;
}
