package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
	scalibrplugin "github.com/google/osv-scalibr/plugin"
	"github.com/google/osv-scalibr/purl"
)

// composerInstalledName is the name of Tidewatch's Composer installed.json extractor.
const composerInstalledName = "php/composerinstalled"

// composerInstalled reads vendor/composer/installed.json, the record Composer keeps
// of the packages it installed into a vendor directory. osv-scalibr reads only
// composer.lock, which an image built with `composer install` need not ship, while
// installed.json is what is actually on disk.
//
// Composer 2 writes {"packages": [...], "dev": bool, "dev-package-names": [...]};
// Composer 1 wrote the package array alone (composer/composer,
// src/Composer/Repository/FilesystemRepository.php). Every listed package is
// installed, dev ones included.
type composerInstalled struct{}

var _ filesystem.Extractor = composerInstalled{}

// Name of the extractor.
func (composerInstalled) Name() string { return composerInstalledName }

// Version of the extractor.
func (composerInstalled) Version() int { return 0 }

// Requirements of the extractor.
func (composerInstalled) Requirements() *scalibrplugin.Capabilities {
	return &scalibrplugin.Capabilities{}
}

// FileRequired wants …/vendor/composer/installed.json.
func (composerInstalled) FileRequired(api filesystem.FileAPI) bool {
	p := api.Path()
	return path.Base(p) == "installed.json" && path.Base(path.Dir(p)) == "composer"
}

// composerPackage is one installed package; version is as the package's tag
// spells it ("v6.4.2"), which Packagist advisories compare after dropping the "v".
type composerPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Extract decodes the file in input.Reader (bounded by the caller to
// maxManifestBytes).
func (composerInstalled) Extract(ctx context.Context, input *filesystem.ScanInput) (inventory.Inventory, error) {
	raw, err := io.ReadAll(input.Reader)
	if err != nil {
		return inventory.Inventory{}, fmt.Errorf("reading installed.json: %w", err)
	}
	var listed []composerPackage
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(trimmed, &listed)
	} else {
		var doc struct {
			Packages *[]composerPackage `json:"packages"`
		}
		err = json.Unmarshal(trimmed, &doc)
		if err == nil && doc.Packages == nil {
			err = errors.New(`no "packages" array`)
		}
		if doc.Packages != nil {
			listed = *doc.Packages
		}
	}
	if err != nil {
		return inventory.Inventory{}, fmt.Errorf("decoding installed.json: %w", err)
	}
	var pkgs []*extractor.Package
	for _, c := range listed {
		pkgs = append(pkgs, &extractor.Package{
			Name: c.Name, Version: c.Version, PURLType: purl.TypeComposer,
			Location: extractor.LocationFromPath(input.Path),
		})
	}
	return inventory.Inventory{Packages: pkgs}, nil
}
