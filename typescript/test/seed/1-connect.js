const client = new WebSocketMQ('ws://your-server/ws');

client.onOpen = () => {
  console.log('Connected to server');
};

client.onError = (error) => {
  console.error('Connection error:', error);
};

client.onClose = () => {
  console.log('Connection closed');
};

client.connect();
