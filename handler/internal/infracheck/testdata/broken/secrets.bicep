// Reading account keys and returning secrets from a deployment.
@secure()
param registryPassword string

resource account 'Microsoft.Storage/storageAccounts@2026-04-01' existing = {
  name: 'sttidewatch'
}

var connection = 'DefaultEndpointsProtocol=https;AccountKey=${account.listKeys().keys[0].value}'

output storageKey string = listKeys(account.id, '2026-04-01').keys[0].value
output credential string = registryPassword
