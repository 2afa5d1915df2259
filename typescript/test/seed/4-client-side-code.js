// Initialize the WebSocketMQ client
const client = new WebSocketMQ('ws://localhost:8080/ws');

client.onOpen = () => {
  console.log('Connected to server');
  
  // Register handlers after connection is established
  setupHandlers();
};

client.onError = (error) => {
  console.error('Connection error:', error);
};

client.onClose = () => {
  console.log('Connection closed');
};

function setupHandlers() {
  // Register a handler for server pings
  client.subscribe('server.ping', async (message) => {
    console.log('Received ping from server:', message);
    
    // Process the ping
    const timestamp = message.timestamp;
    const serverMessage = message.message;
    
    // Return a response
    return {
      clientTime: Date.now(),
      serverTime: timestamp,
      message: 'Pong from client',
      echo: serverMessage
    };
  });
  
  // You can also send requests to the server
  document.getElementById('sendButton').addEventListener('click', async () => {
    try {
      const message = document.getElementById('messageInput').value;
      
      const response = await client.request('example.echo', { message }, 5000);
      
      console.log('Server response:', response);
    } catch (error) {
      console.error('Request failed:', error);
    }
  });
}

// Connect to the server
client.connect();
