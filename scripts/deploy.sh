#!/usr/bin/env bash
# Deploys Tidewatch into an existing resource group: infra/main.bicep first, then the
# package from scripts/package.sh onto the function app.
#
#   scripts/deploy.sh RESOURCE_GROUP [PARAMS]
#
# PARAMS is a .bicepparam file (default infra/main.bicepparam; it names main.bicep with
# `using`) or an ARM .json parameters file. Needs the Azure CLI, logged in (`az login`),
# with rights to create role assignments (Owner or User Access Administrator) on the
# resource group and on each target registry.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/services.sh"
cd "$REPO_ROOT"

usage() { echo "usage: scripts/deploy.sh RESOURCE_GROUP [PARAMS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
group=$1
params=${2:-infra/main.bicepparam}
[ -f "$params" ] || die "parameters file $params not found"

command -v az >/dev/null ||
	die "the Azure CLI (az) is not installed: see https://learn.microsoft.com/cli/azure/install-azure-cli"
az account show --output none 2>/dev/null ||
	die "the Azure CLI is not logged in: run 'az login' (and 'az account set --subscription ...')"
az group show --name "$group" --output none 2>/dev/null ||
	die "resource group $group does not exist in subscription $(az account show --query name -o tsv): create it with 'az group create -n $group -l <region>'"

bash scripts/package.sh
zip="$REPO_ROOT/dist/tidewatch.zip"

deployment="tidewatch-$(date -u +%Y%m%d%H%M%S)"
say "deploying infra/main.bicep to $group as $deployment"
if [[ "$params" == *.bicepparam ]]; then
	az deployment group create --resource-group "$group" --name "$deployment" \
		--parameters "$params" --output none
else
	az deployment group create --resource-group "$group" --name "$deployment" \
		--template-file infra/main.bicep --parameters "@$params" --output none
fi

output() {
	az deployment group show --resource-group "$group" --name "$deployment" \
		--query "properties.outputs.$1.value" --output tsv
}
app=$(output appName)
plan=$(output hostingPlan)
account=$(output storageAccountName)
account_id=$(output storageAccountId)
insights=$(output appInsightsName)

if [ "$plan" = FlexConsumption ]; then
	say "one-deploy of $zip to Flex Consumption app $app"
	az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
		--src "$zip" --output none
else
	# Elastic Premium runs from the package blob (WEBSITE_RUN_FROM_PACKAGE) read with the
	# app's identity; uploading it needs Storage Blob Data Contributor for you.
	say "uploading $zip to $account/deployments and restarting Elastic Premium app $app"
	az storage blob upload --auth-mode login --account-name "$account" \
		--container-name deployments --name tidewatch.zip --file "$zip" --overwrite --output none
	az functionapp restart --resource-group "$group" --name "$app" --output none
fi

tenant=$(az account show --query tenantId -o tsv)
portal="https://portal.azure.com/#@$tenant/resource"
cat <<MSG

Tidewatch is deployed to $group.
  Findings:  $portal$account_id/storagebrowser
             (Tables -> findings; filter State eq 'active')
  Images:    same browser, Tables -> images (one row per scanned platform image)
  Scan runs: same browser, Tables -> runs
  Logs:      $portal/subscriptions/$(az account show --query id -o tsv)/resourceGroups/$group/providers/Microsoft.Insights/components/$insights/logs
The first sweep runs at the next TIDEWATCH_SWEEP_SCHEDULE tick (default 00, 06, 12 and
18 h UTC); the advisory sync runs hourly. Findings appear after both have run.
MSG
