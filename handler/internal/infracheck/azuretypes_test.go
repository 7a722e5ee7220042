package infracheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// azureTypes reads ../shared/azure-types: Azure's generated Bicep type definitions, the
// same data the Bicep compiler checks resource bodies against (see its SOURCES.md).
type azureTypes struct {
	dir   string
	index map[string]typeLocation // lowercased "type@apiVersion"

	mu    sync.Mutex
	files map[string][]typeNode
}

type typeLocation struct {
	File  string `json:"file"`
	Index int    `json:"index"`
}

// typeNode is one element of a types.json array. Elements is a map (discriminated
// objects) or a list (unions), so it is kept raw.
type typeNode struct {
	Kind                 string              `json:"$type"`
	Name                 string              `json:"name"`
	Body                 *typeRef            `json:"body"`
	Properties           map[string]property `json:"properties"`
	AdditionalProperties *typeRef            `json:"additionalProperties"`
	Discriminator        string              `json:"discriminator"`
	BaseProperties       map[string]property `json:"baseProperties"`
	Elements             json.RawMessage     `json:"elements"`
	ItemType             *typeRef            `json:"itemType"`
	Value                json.RawMessage     `json:"value"`
}

type property struct {
	Type  typeRef `json:"type"`
	Flags int     `json:"flags"`
}

// Property flag bits (bicep-types ObjectTypePropertyFlags).
const (
	flagRequired = 1
	flagReadOnly = 2
)

type typeRef struct {
	Ref string `json:"$ref"`
}

func (r typeRef) index() int {
	n, err := strconv.Atoi(strings.TrimPrefix(r.Ref, "#/"))
	if err != nil {
		return -1
	}
	return n
}

// typeSet is one types.json file: references resolve inside it.
type typeSet []typeNode

func (s typeSet) get(r typeRef) (typeNode, bool) {
	i := r.index()
	if i < 0 || i >= len(s) {
		return typeNode{}, false
	}
	return s[i], true
}

// unionMembers lists a UnionType's element references.
func (n typeNode) unionMembers() []typeRef {
	var refs []typeRef
	_ = json.Unmarshal(n.Elements, &refs)
	return refs
}

// variants maps a DiscriminatedObjectType's discriminator values to their object types.
func (n typeNode) variants() map[string]typeRef {
	m := map[string]typeRef{}
	_ = json.Unmarshal(n.Elements, &m)
	return m
}

// literal is a StringLiteralType's value.
func (n typeNode) literal() string {
	var s string
	_ = json.Unmarshal(n.Value, &s)
	return s
}

func loadAzureTypes(t testing.TB) *azureTypes {
	t.Helper()
	dir := filepath.Join(testenv.Shared(t), "azure-types")
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatalf("reading the Azure type index (see ../shared/azure-types/SOURCES.md): %v", err)
	}
	var idx struct {
		Resources map[string]typeLocation `json:"resources"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("decoding %s/index.json: %v", dir, err)
	}
	types := &azureTypes{dir: dir, index: map[string]typeLocation{}, files: map[string][]typeNode{}}
	for name, loc := range idx.Resources {
		types.index[strings.ToLower(name)] = loc
	}
	return types
}

// resource returns the type set holding typeName@apiVersion and its ResourceType node.
func (a *azureTypes) resource(typeName, apiVersion string) (typeSet, typeNode, error) {
	loc, ok := a.index[strings.ToLower(typeName+"@"+apiVersion)]
	if !ok {
		return nil, typeNode{}, fmt.Errorf("%s@%s is not a known resource type and apiVersion (known versions: %s)",
			typeName, apiVersion, strings.Join(a.versions(typeName), ", "))
	}
	set, err := a.file(loc.File)
	if err != nil {
		return nil, typeNode{}, err
	}
	if loc.Index >= len(set) || set[loc.Index].Kind != "ResourceType" {
		return nil, typeNode{}, fmt.Errorf("index entry for %s@%s does not point at a ResourceType", typeName, apiVersion)
	}
	return set, set[loc.Index], nil
}

func (a *azureTypes) file(name string) (typeSet, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if set, ok := a.files[name]; ok {
		return set, nil
	}
	raw, err := os.ReadFile(filepath.Join(a.dir, name))
	if err != nil {
		return nil, fmt.Errorf("reading types file: %w", err)
	}
	var set []typeNode
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	a.files[name] = set
	return set, nil
}

// versions lists the apiVersions known for typeName, oldest first.
func (a *azureTypes) versions(typeName string) []string {
	prefix := strings.ToLower(typeName) + "@"
	var out []string
	for key := range a.index {
		if v, ok := strings.CutPrefix(key, prefix); ok {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// newestStable is the newest apiVersion of typeName without a -preview (or other) suffix.
func (a *azureTypes) newestStable(typeName string) string {
	newest := ""
	for _, v := range a.versions(typeName) {
		if len(v) == len("2006-01-02") {
			newest = v
		}
	}
	return newest
}
