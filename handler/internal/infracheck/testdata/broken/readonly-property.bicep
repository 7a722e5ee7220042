// principalId of a user-assigned identity is computed by Azure, not written.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-tidewatch'
  location: 'westeurope'
  properties: {
    principalId: '00000000-0000-0000-0000-000000000000'
  }
}
