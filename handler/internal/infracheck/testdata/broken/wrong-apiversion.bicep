// Microsoft.Web/sites has no 2099-01-01 apiVersion.
resource site 'Microsoft.Web/sites@2099-01-01' = {
  name: 'func-tidewatch'
  location: 'westeurope'
}
