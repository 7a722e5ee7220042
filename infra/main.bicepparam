using './main.bicep'

// Example parameters: copy, edit, and pass to scripts/deploy.sh.
param namePrefix = 'tidewatch'
param hostingPlan = 'FlexConsumption'
param maximumInstanceCount = 40
param acrResourceIds = [
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-registries/providers/Microsoft.ContainerRegistry/registries/contoso'
]
param otherRegistries = []
param enableRegistryDiagnostics = true
param enableRegistryEvents = true
param enablePullActivity = true
param networkRestricted = false
param sweepSchedule = '0 0 */6 * * *'
param advisorySchedule = '0 0 * * * *'
param pushDays = 90
param pullDays = 30
