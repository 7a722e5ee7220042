// Log Analytics Reader for the app's identity on the workspace that receives the
// registries' ContainerRegistryRepositoryEvents: that is where pull activity is queried.

param workspaceName string

@description('Principal ID of the user-assigned identity the app runs as.')
param identityPrincipalId string

var logAnalyticsReader = '73c42c96-874c-492b-b04d-ab87d138a893' // Log Analytics Reader

resource workspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' existing = {
  name: workspaceName
}

resource readerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, identityPrincipalId, logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReader)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output customerId string = workspace.properties.customerId
