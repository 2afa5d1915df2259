"""WebSocketMQ: publish/subscribe and RPC in both directions over one WebSocket (wsmq/1)."""
