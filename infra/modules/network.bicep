// Network for network-restricted registries: a VNet whose integration subnet carries the
// app's outbound traffic, and private endpoints (with private DNS) for the storage account
// and for every target registry. A registry with public network access disabled is then
// reached privately: its login server resolves to the endpoint in this VNet.

param baseName string
param location string
param tags object

@description('Flex Consumption delegates the integration subnet to Microsoft.App/environments; Elastic Premium to Microsoft.Web/serverFarms.')
param isFlex bool

param addressPrefix string
param integrationSubnetPrefix string
param privateEndpointSubnetPrefix string

param storageAccountId string

@description('Resource IDs of the target Azure Container Registries (Premium SKU: private link needs it).')
param registryIds array

var storageServices = [
  'blob'
  'queue'
  'table'
]
var storageZones = [for service in storageServices: 'privatelink.${service}.${environment().suffixes.storage}']
var registryZone = 'privatelink${environment().suffixes.acrLoginServer}'
var zoneNames = concat(storageZones, [registryZone])

resource vnet 'Microsoft.Network/virtualNetworks@2025-09-01' = {
  name: 'vnet-${baseName}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'integration'
        properties: {
          addressPrefix: integrationSubnetPrefix
          delegations: [
            {
              name: 'app'
              properties: {
                serviceName: isFlex ? 'Microsoft.App/environments' : 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in zoneNames: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in zoneNames: {
    parent: zones[i]
    name: 'link-${baseName}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource storageEndpoints 'Microsoft.Network/privateEndpoints@2025-09-01' = [
  for (service, i) in storageServices: {
    name: 'pe-${baseName}-${service}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: vnet.properties.subnets[1].id
      }
      privateLinkServiceConnections: [
        {
          name: service
          properties: {
            privateLinkServiceId: storageAccountId
            groupIds: [
              service
            ]
          }
        }
      ]
    }
  }
]

resource storageEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-09-01' = [
  for (service, i) in storageServices: {
    parent: storageEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: service
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]

resource registryEndpoints 'Microsoft.Network/privateEndpoints@2025-09-01' = [
  for (registryId, i) in registryIds: {
    name: 'pe-${baseName}-acr-${i}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: vnet.properties.subnets[1].id
      }
      privateLinkServiceConnections: [
        {
          name: 'registry'
          properties: {
            privateLinkServiceId: registryId
            groupIds: [
              'registry'
            ]
          }
        }
      ]
    }
  }
]

resource registryEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2025-09-01' = [
  for (registryId, i) in registryIds: {
    parent: registryEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: 'registry'
          properties: {
            privateDnsZoneId: zones[length(storageServices)].id
          }
        }
      ]
    }
  }
]

output integrationSubnetId string = vnet.properties.subnets[0].id
