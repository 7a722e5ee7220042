// accessTier is a closed enum: Hot, Cool, Premium, Cold, Smart.
resource account 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  name: 'sttidewatch'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Warm'
  }
}
