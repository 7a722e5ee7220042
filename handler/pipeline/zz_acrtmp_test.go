package pipeline

import (
	"testing"

	"github.com/tidewatch/tidewatch/handler/config"
)

func TestZZACRTmp(t *testing.T) {
	cfg := &config.Config{Registries: []config.Registry{{Host: "contoso.azurecr.io", Auth: config.AuthACR}}, AzureClientID: "a2b9c6b0-2f7e-4c6a-9d43-0d6f6a0f8a11"}
	p, err := New(cfg, nil, "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(p.registries["contoso.azurecr.io"].Host())
}
