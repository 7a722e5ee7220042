package config_test

import (
	"strings"
	"testing"

	"github.com/tidewatch/tidewatch/handler/config"
)

func TestRequireRegistries(t *testing.T) {
	storage := "TIDEWATCH_STORAGE=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1"
	t.Run("storage-only configuration loads but cannot sweep", func(t *testing.T) {
		cfg, err := config.Load([]string{storage})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		err = cfg.RequireRegistries()
		if err == nil || !strings.Contains(err.Error(), "TIDEWATCH_REGISTRIES") {
			t.Fatalf("RequireRegistries() = %v, want an error naming TIDEWATCH_REGISTRIES", err)
		}
	})
	t.Run("a configured registry satisfies it", func(t *testing.T) {
		cfg, err := config.Load([]string{storage, "TIDEWATCH_REGISTRIES=127.0.0.1:5000=anonymous"})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if err := cfg.RequireRegistries(); err != nil {
			t.Fatalf("RequireRegistries() = %v", err)
		}
	})
}
