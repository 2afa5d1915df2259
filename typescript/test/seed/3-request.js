try {
  // Send an RPC request to the server
  const response = await client.request('example.topic', { param: 'value' }, 5000);
  
  // Process the response
  console.log('Response:', response);
} catch (error) {
  console.error('RPC error:', error);
}
