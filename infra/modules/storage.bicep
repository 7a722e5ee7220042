// Storage account that holds both the Functions host state and Tidewatch's own queues,
// tables and blob containers. Shared-key access is off: everything authenticates with
// the user-assigned identity, which gets the three data roles on this account only.

@description('Storage account name (3-24 lowercase letters and digits).')
param name string

param location string
param tags object

@description('Principal ID of the user-assigned identity the app runs as.')
param identityPrincipalId string

@description('Turn public network access off; the app then reaches the account through private endpoints.')
param networkRestricted bool

// Names shared with DESIGN.md and handler/store (a test in handler/internal/infracheck
// keeps them equal). The host moves failed messages to "<queue>-poison".
var queueNames = [
  'list-tasks'
  'list-tasks-poison'
  'scan-tasks'
  'scan-tasks-poison'
  'registry-events'
  'registry-events-poison'
  'rematch-tasks'
  'rematch-tasks-poison'
]
var tableNames = [
  'images'
  'tags'
  'findings'
  'activity'
  'runs'
  'layers'
]
var containerNames = [
  'advisories'
  'inventories'
  'layers'
  deploymentContainerName
]

// Blob container the app package is deployed from (Flex deployment storage; on Elastic
// Premium the blob WEBSITE_RUN_FROM_PACKAGE points at).
var deploymentContainerName = 'deployments'

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
var dataRoles = [
  storageBlobDataOwner
  storageQueueDataContributor
  storageTableDataContributor
]

resource account 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: networkRestricted ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: networkRestricted ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = [
  for container in containerNames: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-04-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-04-01' = [
  for queue in queueNames: {
    parent: queueService
    name: queue
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-04-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-04-01' = [
  for table in tableNames: {
    parent: tableService
    name: table
  }
]

resource dataRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in dataRoles: {
    name: guid(account.id, identityPrincipalId, role)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
output registryEventsQueue string = 'registry-events'
