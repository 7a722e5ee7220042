// functionAppConfig.runtime has name and version; "language" is not in the schema.
resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: 'func-tidewatch'
  location: 'westeurope'
  kind: 'functionapp,linux'
  properties: {
    functionAppConfig: {
      runtime: {
        language: 'custom'
        version: '1.0'
      }
    }
  }
}
