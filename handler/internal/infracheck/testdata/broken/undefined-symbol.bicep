// `locaton` is a typo for the parameter `location`.
param location string = 'westeurope'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-tidewatch'
  location: locaton
}
