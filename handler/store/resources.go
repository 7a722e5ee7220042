package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// EnsureResources creates every table, queue (with its poison queue) and blob
// container that does not exist yet. Existing resources are left alone.
func (s *Store) EnsureResources(ctx context.Context) error {
	for _, t := range Tables() {
		_, err := s.tables.CreateTable(ctx, s.name(t), nil)
		if err != nil && !hasCode(err, string(aztables.TableAlreadyExists)) {
			return fmt.Errorf("creating table %s: %w", s.name(t), err)
		}
	}
	for _, q := range Queues() {
		name := s.queueName(q)
		_, err := s.queues.CreateQueue(ctx, name, nil)
		if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
			return fmt.Errorf("creating queue %s: %w", name, err)
		}
	}
	for _, c := range Containers() {
		_, err := s.blobs.CreateContainer(ctx, s.name(c), nil)
		if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
			return fmt.Errorf("creating container %s: %w", s.name(c), err)
		}
	}
	return nil
}

// DeleteResources deletes every table, queue and container of this store. It exists
// for tests that created suffixed resources; missing resources are ignored.
func (s *Store) DeleteResources(ctx context.Context) error {
	for _, t := range Tables() {
		if _, err := s.tables.DeleteTable(ctx, s.name(t), nil); err != nil && !hasStatus(err, 404) {
			return fmt.Errorf("deleting table %s: %w", s.name(t), err)
		}
	}
	for _, q := range Queues() {
		if _, err := s.queues.DeleteQueue(ctx, s.queueName(q), nil); err != nil && !hasStatus(err, 404) {
			return fmt.Errorf("deleting queue %s: %w", s.queueName(q), err)
		}
	}
	for _, c := range Containers() {
		if _, err := s.blobs.DeleteContainer(ctx, s.name(c), nil); err != nil && !hasStatus(err, 404) {
			return fmt.Errorf("deleting container %s: %w", s.name(c), err)
		}
	}
	return nil
}

// queueName maps a canonical queue name, possibly a poison queue, to its actual name:
// the suffix goes on the work queue and "-poison" after it, as the Functions host
// derives poison names from the actual queue name.
func (s *Store) queueName(canonical string) string {
	if base, ok := strings.CutSuffix(canonical, PoisonSuffix); ok {
		return s.name(base) + PoisonSuffix
	}
	return s.name(canonical)
}
