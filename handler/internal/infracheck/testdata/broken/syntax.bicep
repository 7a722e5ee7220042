// A resource whose object literal is never closed.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-tidewatch'
  location: 'westeurope'

output name string = identity.name
