// The first GUID is no built-in role; the second is AcrPull but its comment does not say so.
var notARole = '11111111-2222-3333-4444-555555555555' // Storage Blob Data Owner
var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // pull images

// A role assignment named by a fresh GUID each time is duplicated on re-deploy.
param stamp string = newGuid()

resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: 'tidewatch-pull'
  properties: {
    roleDefinitionId: acrPull
    principalId: stamp
  }
}
