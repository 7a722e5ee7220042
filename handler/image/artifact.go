package image

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dockerReferenceType is the annotation BuildKit puts on attestation manifests.
const dockerReferenceType = "vnd.docker.reference.type"

// descriptorSkipReason says why an index entry is not a platform image to scan,
// judging by the entry alone, or "" when its manifest must be read to tell.
func descriptorSkipReason(desc v1.Descriptor) string {
	if t, ok := desc.Annotations[dockerReferenceType]; ok {
		return fmt.Sprintf("attestation (%s=%s)", dockerReferenceType, t)
	}
	if p := desc.Platform; p != nil && (p.OS == "unknown" || p.Architecture == "unknown") {
		return "unknown platform " + p.String()
	}
	// An index entry's artifactType repeats its manifest's, or else its config media
	// type, which for a container image is an image config.
	if t := types.MediaType(desc.ArtifactType); t != "" && !t.IsConfig() {
		return "artifact"
	}
	switch mt := desc.MediaType; {
	case mt.IsIndex(), mt.IsImage(), mt == "":
		return ""
	case mt.IsSchema1():
		return "Docker schema 1 manifests are not supported"
	default:
		return "not an image manifest or index"
	}
}

// manifestSkipReason says why an image manifest is an artifact rather than a
// container image (an artifactType, a config that is not an image config, or a
// layer that is not a filesystem tar), with the artifact type, or "" for an image.
func manifestSkipReason(m *v1.Manifest) (artifactType, reason string) {
	switch {
	case m.ArtifactType != "":
		return m.ArtifactType, "artifact"
	case !m.Config.MediaType.IsConfig():
		return string(m.Config.MediaType), fmt.Sprintf("artifact: config media type %q is not an image config", m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if !l.MediaType.IsLayer() {
			return "", fmt.Sprintf("artifact: layer media type %q is not a filesystem layer", l.MediaType)
		}
	}
	return "", ""
}
