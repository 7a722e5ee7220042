// FUNCTIONS_WORKER_RUNTIME and linuxFxVersion break a Flex Consumption app.
var hostSettings = {
  FUNCTIONS_WORKER_RUNTIME: 'custom'
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: 'func-tidewatch'
  location: 'westeurope'
  properties: {
    siteConfig: {
      linuxFxVersion: 'CUSTOM|1.0'
    }
  }
}
