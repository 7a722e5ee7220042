// Event Grid destinations are discriminated on endpointType; "Queue" is not one.
resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  name: 'topic/tidewatch'
  properties: {
    destination: {
      endpointType: 'Queue'
      properties: {
        queueName: 'registry-events'
      }
    }
  }
}
