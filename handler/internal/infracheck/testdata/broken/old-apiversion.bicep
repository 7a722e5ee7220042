// A valid apiVersion, but not the newest stable one.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-tidewatch'
  location: 'westeurope'
}
