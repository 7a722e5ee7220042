// Lets one Event Grid system topic's identity put messages on the account's queues, and
// nothing else (Storage Queue Data Message Sender on this account).

param storageAccountName string

@description('Principal ID of the system topic\'s managed identity.')
param principalId string

@description('Resource ID of the registry the topic belongs to; makes the assignment name stable.')
param registryId string

var storageQueueDataMessageSender = 'c6a89b2d-59bc-44d0-9896-0f6e12d7b80a' // Storage Queue Data Message Sender

resource account 'Microsoft.Storage/storageAccounts@2026-04-01' existing = {
  name: storageAccountName
}

resource senderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, registryId, storageQueueDataMessageSender)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataMessageSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
