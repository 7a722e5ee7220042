package store

// Canonical table names. A [WithNameSuffix] store appends its suffix to each.
const (
	TableImages   = "images"
	TableTags     = "tags"
	TableFindings = "findings"
	TableActivity = "activity"
	TableRuns     = "runs"
	TableLayers   = "layers"
)

// Canonical queue names. The Functions host moves a message that failed
// maxDequeueCount times to "<queue>-poison" ([PoisonSuffix]).
const (
	QueueListTasks      = "list-tasks"
	QueueScanTasks      = "scan-tasks"
	QueueRegistryEvents = "registry-events"
	QueueRematchTasks   = "rematch-tasks"
	PoisonSuffix        = "-poison"
)

// Canonical blob container names.
const (
	ContainerAdvisories  = "advisories"
	ContainerInventories = "inventories"
	ContainerLayers      = "layers"
)

// Tables returns the canonical names of every table [Store.EnsureResources] creates.
func Tables() []string {
	return []string{TableImages, TableTags, TableFindings, TableActivity, TableRuns, TableLayers}
}

// WorkQueues returns the canonical names of the four work queues, without poison queues.
func WorkQueues() []string {
	return []string{QueueListTasks, QueueScanTasks, QueueRegistryEvents, QueueRematchTasks}
}

// Queues returns the canonical names of every queue [Store.EnsureResources] creates:
// the work queues and their poison queues.
func Queues() []string {
	var names []string
	for _, q := range WorkQueues() {
		names = append(names, q, q+PoisonSuffix)
	}
	return names
}

// Containers returns the canonical names of every blob container
// [Store.EnsureResources] creates.
func Containers() []string {
	return []string{ContainerAdvisories, ContainerInventories, ContainerLayers}
}
