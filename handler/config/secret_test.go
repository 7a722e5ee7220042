package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretsNeverLeak(t *testing.T) {
	const password = "hunter2-Pa55"
	const accountKey = "c2VjcmV0LWFjY291bnQta2V5"
	env := []string{
		"TIDEWATCH_REGISTRIES=contoso.azurecr.io,localhost:5000=basic",
		"TIDEWATCH_REGISTRY_2_USERNAME=robot",
		"TIDEWATCH_REGISTRY_2_PASSWORD=" + password,
		"TIDEWATCH_STORAGE=DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + accountKey,
	}
	cfg, err := Load(env)
	if err != nil {
		t.Fatal(err)
	}
	reg := cfg.Registries[1] // localhost:5000=basic
	if reg.Password.Reveal() != password || cfg.Storage.ConnectionString.Reveal() != env[3][len("TIDEWATCH_STORAGE="):] {
		t.Fatal("Reveal does not return the configured secrets; the leak checks below would be vacuous")
	}

	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "config", cfg, "registry", reg)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("config", "config", cfg, "registry", reg)
	marshalled, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	renderings := map[string]string{
		"String":         cfg.String(),
		"%v of *Config":  fmt.Sprintf("%v", cfg),
		"%+v of Config":  fmt.Sprintf("%+v", *cfg),
		"%#v of Config":  fmt.Sprintf("%#v", *cfg),
		"%s of Registry": fmt.Sprintf("%s", reg),
		"%q of Password": fmt.Sprintf("%q", reg.Password),
		"%x of Password": fmt.Sprintf("%x", reg.Password),
		"slog JSON":      jsonLog.String(),
		"slog text":      textLog.String(),
		"JSON":           string(marshalled),
	}
	for name, text := range renderings {
		t.Run(name+" shows no secret", func(t *testing.T) {
			for _, secret := range []string{password, accountKey} {
				if strings.Contains(text, secret) {
					t.Errorf("%s leaks a secret: %s", name, text)
				}
			}
		})
	}
	t.Run("the log still says which registries use which auth", func(t *testing.T) {
		if !strings.Contains(jsonLog.String(), "localhost:5000=basic") {
			t.Errorf("JSON log lacks the registry list: %s", jsonLog.String())
		}
	})
	t.Run("a set secret prints as redacted and an unset one as empty", func(t *testing.T) {
		if got := fmt.Sprintf("%v|%v", Secret("x"), Secret("")); got != "[redacted]|" {
			t.Errorf("Sprint = %q", got)
		}
	})
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	const password = "hunter2-Pa55"
	const accountKey = "c2VjcmV0LWFjY291bnQta2V5"
	tests := []struct {
		name string
		env  []string
	}{
		{"a password for a non-basic registry", []string{"TIDEWATCH_REGISTRIES=a.io", "TIDEWATCH_REGISTRY_1_PASSWORD=" + password, "TIDEWATCH_STORAGE=UseDevelopmentStorage=true"}},
		{"a password beyond the registry list", []string{"TIDEWATCH_REGISTRIES=a.io", "TIDEWATCH_REGISTRY_2_PASSWORD=" + password, "TIDEWATCH_STORAGE=UseDevelopmentStorage=true"}},
		{"a malformed connection string", []string{"TIDEWATCH_REGISTRIES=a.io", "TIDEWATCH_STORAGE=" + accountKey}},
		{"a connection string with a bad key", []string{"TIDEWATCH_REGISTRIES=a.io", "TIDEWATCH_STORAGE=AccountName=a;AccountKey=" + accountKey + ";Bogus=" + accountKey}},
		{"a connection string beside identity settings", []string{"TIDEWATCH_REGISTRIES=a.io", "TIDEWATCH_STORAGE=AccountName=a;AccountKey=" + accountKey, "TIDEWATCH_STORAGE__credential=managedidentity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is reported without its value", func(t *testing.T) {
			_, err := Load(tt.env)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), accountKey) {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}
