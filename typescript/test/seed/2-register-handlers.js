// Register a handler for a specific topic
client.subscribe('client.action', async (message) => {
  // Process the message
  // ...
  
  // Return a response (for RPC)
  return { result: 'success', data: someData };
});
