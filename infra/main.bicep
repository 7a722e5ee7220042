// Tidewatch: one resource group holding a function app (Flex Consumption by default), the
// user-assigned identity it runs as, its storage account, monitoring, and optional network
// isolation; plus, in each target registry's resource group, AcrPull, activity logs and
// Event Grid push events. Deploy with scripts/deploy.sh; see infra/DEPLOY.md.

targetScope = 'resourceGroup'

@description('Short prefix for resource names (lowercase letters, digits, hyphens).')
@minLength(2)
@maxLength(12)
param namePrefix string = 'tidewatch'

param location string = resourceGroup().location

@description('FlexConsumption (default; costs nothing at idle) or ElasticPremium for regions where Flex refuses custom handlers.')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Upper bound on instances (Flex maximumInstanceCount; Elastic Premium burst limit).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per Flex instance. 2048 MB leaves room for large layers being streamed.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Resource IDs of the Azure Container Registries to scan. They may live in other resource groups or subscriptions.')
param acrResourceIds array = []

@description('Other registries for TIDEWATCH_REGISTRIES, as "host=auth" (auth: basic or anonymous).')
param otherRegistries array = []

@description('Credentials for basic-auth registries: [{ index: N, username: \'...\', passwordSecretUri: \'https://<vault>.vault.azure.net/secrets/<name>\' }]. N is the registry\'s 1-based position in TIDEWATCH_REGISTRIES; the password is a Key Vault reference read with the app\'s identity (grant it Key Vault Secrets User on the vault).')
param registryCredentials array = []

@description('Send ContainerRegistryRepositoryEvents and ContainerRegistryLoginEvents of each target ACR to the workspace (pull activity).')
param enableRegistryDiagnostics bool = true

@description('Create an Event Grid system topic per ACR delivering ImagePushed/ImageDeleted to the registry-events queue. Needs no existing system topic on the registry; ignored when networkRestricted.')
param enableRegistryEvents bool = true

@description('Query pull activity from Log Analytics (Log Analytics Reader for the app on the workspace).')
param enablePullActivity bool = true

@description('Resource ID of an existing workspace that already receives the registries\' logs; empty uses the workspace deployed here.')
param activityWorkspaceResourceId string = ''

@description('Put the app in a VNet with private endpoints for storage and each ACR; storage public network access is turned off.')
param networkRestricted bool = false

param vnetAddressPrefix string = '10.60.0.0/16'
param integrationSubnetPrefix string = '10.60.0.0/24'
param privateEndpointSubnetPrefix string = '10.60.1.0/24'

@description('OSV bulk export base URL.')
param advisoriesUrl string = 'https://osv-vulnerabilities.storage.googleapis.com'

@description('Where the Azure Linux / CBL-Mariner OVAL documents are read when ecosystems lists "Azure Linux" (OSV has no feed for them).')
param ovalUrl string = 'https://raw.githubusercontent.com/microsoft/AzureLinuxVulnerabilityData/main'

@description('Comma list of OSV ecosystems to load (OSV export directory names).')
param ecosystems string = 'Debian'

@description('OSV export folder whose NVD-converted CVE-* records supply CVSS for findings (severity data only).')
param severitySource string = 'GIT'

@description('NCRONTAB (six fields) for the registry sweep.')
param sweepSchedule string = '0 0 */6 * * *'

@description('NCRONTAB (six fields) for the advisory sync.')
param advisorySchedule string = '0 0 * * * *'

@description('Scan images pushed or imported within this many days.')
@minValue(1)
param pushDays int = 90

@description('Scan images pulled within this many days.')
@minValue(1)
param pullDays int = 30

@description('Advisory index older than this marks scans failed (Go duration).')
param maxDbAge string = '48h'

@description('Time one scan invocation may spend before handing the task back to the queue (Go duration).')
param scanBudget string = '9m'

@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('Requests one function instance keeps in flight to each registry (TIDEWATCH_REGISTRY_CONCURRENCY).')
@minValue(1)
@maxValue(1024)
param registryConcurrency int = 32

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

param tags object = {
  app: 'tidewatch'
}

var suffix = uniqueString(resourceGroup().id)
var baseName = '${namePrefix}-${suffix}'
var storageAccountName = take('st${replace(namePrefix, '-', '')}${suffix}', 24)
var isFlex = hostingPlan == 'FlexConsumption'
var registryEventsOn = enableRegistryEvents && !networkRestricted

// A registry resource ID is /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerRegistry/registries/<name>.
var acrRegistries = [
  for id in acrResourceIds: {
    id: id
    subscriptionId: split(id, '/')[2]
    resourceGroup: split(id, '/')[4]
    name: split(id, '/')[8]
  }
]

var ownWorkspace = empty(activityWorkspaceResourceId)
var activityWorkspace = {
  subscriptionId: ownWorkspace ? subscription().subscriptionId : split(activityWorkspaceResourceId, '/')[2]
  resourceGroup: ownWorkspace ? resourceGroup().name : split(activityWorkspaceResourceId, '/')[4]
  name: ownWorkspace ? 'log-${baseName}' : split(activityWorkspaceResourceId, '/')[8]
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: 'id-${baseName}'
  location: location
  tags: tags
}

module storage 'modules/storage.bicep' = {
  name: 'tidewatch-storage'
  params: {
    name: storageAccountName
    location: location
    tags: tags
    identityPrincipalId: identity.properties.principalId
    networkRestricted: networkRestricted
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'tidewatch-monitoring'
  params: {
    baseName: baseName
    location: location
    tags: tags
    identityPrincipalId: identity.properties.principalId
    retentionInDays: logRetentionInDays
  }
}

module workspaceReader 'modules/workspace-reader.bicep' = if (enablePullActivity) {
  name: 'tidewatch-workspace-reader'
  scope: resourceGroup(activityWorkspace.subscriptionId, activityWorkspace.resourceGroup)
  dependsOn: [
    monitoring
  ]
  params: {
    workspaceName: activityWorkspace.name
    identityPrincipalId: identity.properties.principalId
  }
}

module network 'modules/network.bicep' = if (networkRestricted) {
  name: 'tidewatch-network'
  params: {
    baseName: baseName
    location: location
    tags: tags
    isFlex: isFlex
    addressPrefix: vnetAddressPrefix
    integrationSubnetPrefix: integrationSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    storageAccountId: storage.outputs.id
    registryIds: acrResourceIds
  }
}

module registryAccess 'modules/registry-access.bicep' = [
  for (registry, i) in acrRegistries: {
    name: 'tidewatch-acr-${i}'
    scope: resourceGroup(registry.subscriptionId, registry.resourceGroup)
    params: {
      registryName: registry.name
      identityPrincipalId: identity.properties.principalId
      workspaceId: enableRegistryDiagnostics
        ? (ownWorkspace ? monitoring.outputs.workspaceId : activityWorkspaceResourceId)
        : ''
      enableEvents: registryEventsOn
      tags: tags
    }
  }
]

module queueSenders 'modules/queue-sender.bicep' = [
  for (registry, i) in acrRegistries: if (registryEventsOn) {
    name: 'tidewatch-acr-sender-${i}'
    params: {
      storageAccountName: storage.outputs.name
      principalId: registryAccess[i].outputs.topicPrincipalId
      registryId: registry.id
    }
  }
]

module registryEvents 'modules/registry-events.bicep' = [
  for (registry, i) in acrRegistries: if (registryEventsOn) {
    name: 'tidewatch-acr-events-${i}'
    scope: resourceGroup(registry.subscriptionId, registry.resourceGroup)
    dependsOn: [
      queueSenders
    ]
    params: {
      topicName: registryAccess[i].outputs.topicName
      storageAccountId: storage.outputs.id
      queueName: storage.outputs.registryEventsQueue
    }
  }
]

var registryEntries = concat(map(acrRegistries, registry => '${toLower(registry.name)}${environment().suffixes.acrLoginServer}=acr'), otherRegistries)

// Every name here is one handler/config reads (checked by handler/internal/infracheck).
var tidewatchSettings = {
  TIDEWATCH_REGISTRIES: join(registryEntries, ',')
  TIDEWATCH_STORAGE__blobServiceUri: storage.outputs.blobEndpoint
  TIDEWATCH_STORAGE__queueServiceUri: storage.outputs.queueEndpoint
  TIDEWATCH_STORAGE__tableServiceUri: storage.outputs.tableEndpoint
  TIDEWATCH_STORAGE__credential: 'managedidentity'
  TIDEWATCH_STORAGE__clientId: identity.properties.clientId
  AZURE_CLIENT_ID: identity.properties.clientId
  TIDEWATCH_ADVISORIES_URL: advisoriesUrl
  TIDEWATCH_OVAL_URL: ovalUrl
  TIDEWATCH_ECOSYSTEMS: ecosystems
  TIDEWATCH_SEVERITY_SOURCE: severitySource
  TIDEWATCH_SWEEP_SCHEDULE: sweepSchedule
  TIDEWATCH_ADVISORY_SCHEDULE: advisorySchedule
  TIDEWATCH_PUSH_DAYS: string(pushDays)
  TIDEWATCH_PULL_DAYS: string(pullDays)
  TIDEWATCH_MAX_DB_AGE: maxDbAge
  TIDEWATCH_SCAN_BUDGET: scanBudget
  TIDEWATCH_LOG_LEVEL: logLevel
  TIDEWATCH_REGISTRY_CONCURRENCY: string(registryConcurrency)
  TIDEWATCH_LOG_ANALYTICS_WORKSPACE_ID: enablePullActivity ? workspaceReader.outputs.customerId : ''
}

var registryCredentialSettings = reduce(
  registryCredentials,
  {},
  (settings, credential) =>
    union(settings, {
      'TIDEWATCH_REGISTRY_${credential.index}_USERNAME': credential.username
      'TIDEWATCH_REGISTRY_${credential.index}_PASSWORD': '@Microsoft.KeyVault(SecretUri=${credential.passwordSecretUri})'
    })
)

module app 'modules/functionapp.bicep' = {
  name: 'tidewatch-app'
  params: {
    baseName: baseName
    location: location
    tags: tags
    hostingPlan: hostingPlan
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsName: monitoring.outputs.appInsightsName
    tidewatchAppSettings: union(tidewatchSettings, registryCredentialSettings)
    integrationSubnetId: networkRestricted ? network.outputs.integrationSubnetId : ''
  }
}

output appName string = app.outputs.name
output hostingPlan string = hostingPlan
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output storageAccountName string = storage.outputs.name
output storageAccountId string = storage.outputs.id
output appInsightsName string = monitoring.outputs.appInsightsName
