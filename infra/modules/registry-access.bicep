// Everything Tidewatch needs on one target Azure Container Registry, deployed in the
// registry's own resource group: AcrPull for the app's identity, an optional diagnostic
// setting that sends repository and login events (pull activity) to the workspace, and an
// optional Event Grid system topic whose identity delivers ImagePushed/ImageDeleted.

@description('Name of the registry (in this module\'s resource group).')
param registryName string

@description('Principal ID of the user-assigned identity the app runs as.')
param identityPrincipalId string

@description('Resource ID of the Log Analytics workspace for ContainerRegistry* logs; empty skips the diagnostic setting.')
param workspaceId string

@description('Create the Event Grid system topic for push/delete events.')
param enableEvents bool

param tags object

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull

resource registry 'Microsoft.ContainerRegistry/registries@2025-11-01' existing = {
  name: registryName
}

resource pullRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityPrincipalId, acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource activityLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(workspaceId)) {
  name: 'tidewatch-activity'
  scope: registry
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'ContainerRegistryRepositoryEvents'
        enabled: true
      }
      {
        category: 'ContainerRegistryLoginEvents'
        enabled: true
      }
    ]
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (enableEvents) {
  name: 'evgt-${registryName}-tidewatch'
  location: registry.location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: registry.id
    topicType: 'Microsoft.ContainerRegistry.Registries'
  }
}

output loginServer string = registry.properties.loginServer
output topicName string = enableEvents ? systemTopic.name : ''
output topicPrincipalId string = enableEvents ? systemTopic.identity.principalId : ''
