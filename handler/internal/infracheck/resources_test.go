package infracheck

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	tree_sitter "github.com/tree-sitter/go-tree-sitter"
)

// resourceDecl is one `resource sym 'Type@apiVersion' [existing] = body` declaration.
type resourceDecl struct {
	symbol     string
	typeName   string
	apiVersion string
	existing   bool
	typeNode   *tree_sitter.Node
	body       *tree_sitter.Node // the object literal, through any `if`/`for`
}

// bicepOnlyKeys are resource-body keys Bicep consumes itself; they are not in ARM schemas.
var bicepOnlyKeys = []string{"parent", "scope", "dependsOn"}

// resources lists the file's resource declarations, top level and nested.
func (f *bicepFile) resources() ([]resourceDecl, []string) {
	var decls []resourceDecl
	var problems []string
	walk(f.root, func(n *tree_sitter.Node) {
		if n.Kind() != "resource_declaration" {
			return
		}
		kids := namedChildren(n)
		if len(kids) < 3 {
			problems = append(problems, fmt.Sprintf("%s: incomplete resource declaration", f.at(n)))
			return
		}
		d := resourceDecl{symbol: f.text(kids[0]), typeNode: kids[1], body: declBody(kids[len(kids)-1])}
		for i := uint(0); i < n.ChildCount(); i++ {
			if n.Child(i).Kind() == "existing" {
				d.existing = true
			}
		}
		typeString, ok := f.stringValue(kids[1])
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: resource %s: type must be a plain string", f.at(kids[1]), d.symbol))
			return
		}
		name, version, ok := strings.Cut(typeString, "@")
		if !ok || strings.Count(name, "/") < 1 {
			problems = append(problems, fmt.Sprintf("%s: resource %s: write the full 'Namespace/type@apiVersion', got %q", f.at(kids[1]), d.symbol, typeString))
			return
		}
		d.typeName, d.apiVersion = name, version
		if d.body == nil {
			problems = append(problems, fmt.Sprintf("%s: resource %s: body is not an object literal", f.at(n), d.symbol))
			return
		}
		decls = append(decls, d)
	})
	return decls, problems
}

// declBody finds the object literal of a resource or module body through `if (...)` and
// `[for ... : ...]`.
func declBody(n *tree_sitter.Node) *tree_sitter.Node {
	switch n.Kind() {
	case "object":
		return n
	case "if_statement":
		return childOfKind(n, "object")
	case "for_statement":
		if body := n.ChildByFieldName("body"); body != nil {
			return declBody(body)
		}
	}
	return nil
}

// typeProblems checks every resource's type, apiVersion and written property keys
// against the Azure type definitions.
func typeProblems(f *bicepFile, types *azureTypes) []string {
	decls, problems := f.resources()
	for _, d := range decls {
		set, rt, err := types.resource(d.typeName, d.apiVersion)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: resource %s: %v", f.at(d.typeNode), d.symbol, err))
			continue
		}
		body, _ := set.get(*rt.Body)
		c := bodyChecker{f: f, set: set, resource: d.typeName + "@" + d.apiVersion}
		if d.existing {
			for _, prop := range namedChildren(d.body) {
				key := c.key(prop)
				if key != "name" && key != "scope" && key != "parent" {
					c.report(prop, "an existing resource takes only name, scope and parent, not %q", key)
				}
			}
		} else {
			c.object(d.body, body, d.symbol, bicepOnlyKeys)
		}
		problems = append(problems, c.problems...)
	}
	return problems
}

// bodyChecker walks one resource body against its schema.
type bodyChecker struct {
	f        *bicepFile
	set      typeSet
	resource string
	problems []string
}

func (c *bodyChecker) report(n *tree_sitter.Node, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: %s: %s", c.f.at(n), c.resource, fmt.Sprintf(format, args...)))
}

// key is an object_property's key, or "" when it is computed.
func (c *bodyChecker) key(prop *tree_sitter.Node) string {
	kids := namedChildren(prop)
	if len(kids) == 0 {
		return ""
	}
	switch kids[0].Kind() {
	case "identifier", "compatible_identifier":
		return c.f.text(kids[0])
	case "string":
		s, _ := c.f.stringValue(kids[0])
		return s
	}
	return ""
}

// propertyValue is the value expression of an object_property.
func propertyValue(prop *tree_sitter.Node) *tree_sitter.Node {
	kids := namedChildren(prop)
	if len(kids) < 2 {
		return nil
	}
	return kids[len(kids)-1]
}

// object checks an object literal against an object-like type node.
func (c *bodyChecker) object(obj *tree_sitter.Node, t typeNode, path string, extraKeys []string) {
	props, open, ok := c.objectShape(obj, t, path)
	if !ok {
		return
	}
	for _, prop := range namedChildren(obj) {
		if prop.Kind() != "object_property" {
			continue
		}
		key := c.key(prop)
		if slices.Contains(extraKeys, key) {
			continue
		}
		def, known := props[key]
		switch {
		case key == "" && open:
			continue
		case key == "":
			c.report(prop, "%s: computed key where the schema has fixed properties", path)
			continue
		case !known && open:
			continue
		case !known:
			c.report(prop, "%s: unknown property %q (known: %s)", path, key, strings.Join(sortedKeys(props), ", "))
			continue
		case def.Flags&flagReadOnly != 0:
			c.report(prop, "%s.%s is read-only", path, key)
			continue
		}
		c.value(propertyValue(prop), def.Type, path+"."+key)
	}
}

// objectShape resolves t to the properties an object literal may use, following
// discriminators and unions. open means any key is accepted.
func (c *bodyChecker) objectShape(obj *tree_sitter.Node, t typeNode, path string) (map[string]property, bool, bool) {
	switch t.Kind {
	case "AnyType":
		return nil, true, true
	case "ObjectType":
		return t.Properties, t.AdditionalProperties != nil, true
	case "DiscriminatedObjectType":
		props := map[string]property{}
		for k, v := range t.BaseProperties {
			props[k] = v
		}
		choice := c.discriminatorValue(obj, t.Discriminator)
		variants := t.variants()
		ref, ok := variants[choice]
		if !ok {
			c.report(obj, "%s: %s must be a literal, one of %s; got %q", path, t.Discriminator, strings.Join(sortedKeys(variants), ", "), choice)
			return nil, false, false
		}
		variant, _ := c.set.get(ref)
		for k, v := range variant.Properties {
			props[k] = v
		}
		props[t.Discriminator] = property{}
		return props, variant.AdditionalProperties != nil, true
	case "UnionType":
		for _, ref := range t.unionMembers() {
			member, _ := c.set.get(ref)
			if member.Kind == "ObjectType" || member.Kind == "DiscriminatedObjectType" || member.Kind == "AnyType" {
				return c.objectShape(obj, member, path)
			}
		}
	}
	c.report(obj, "%s: an object is written where the schema has %s", path, t.Kind)
	return nil, false, false
}

func (c *bodyChecker) discriminatorValue(obj *tree_sitter.Node, discriminator string) string {
	for _, prop := range namedChildren(obj) {
		if prop.Kind() == "object_property" && c.key(prop) == discriminator {
			if s, ok := c.f.stringValue(propertyValue(prop)); ok {
				return s
			}
			return "<expression>"
		}
	}
	return "<absent>"
}

// value checks a property value: objects and arrays recursively, literals against
// primitive types and closed enums; other expressions are not evaluated.
func (c *bodyChecker) value(v *tree_sitter.Node, ref typeRef, path string) {
	if v == nil {
		return
	}
	t, ok := c.set.get(ref)
	if !ok {
		return
	}
	switch v.Kind() {
	case "object":
		c.object(v, t, path, nil)
	case "array":
		item, ok := c.itemType(t)
		if !ok {
			c.report(v, "%s: an array is written where the schema has %s", path, t.Kind)
			return
		}
		for _, el := range namedChildren(v) {
			if el.Kind() == "for_statement" {
				el = el.ChildByFieldName("body")
			}
			c.value(el, item, path+"[]")
		}
	case "if_statement":
		c.value(childOfKind(v, "object"), ref, path)
	case "ternary_expression":
		c.value(v.ChildByFieldName("consequence"), ref, path)
		c.value(v.ChildByFieldName("alternative"), ref, path)
	case "parenthesized_expression":
		if kids := namedChildren(v); len(kids) == 1 {
			c.value(kids[0], ref, path)
		}
	case "string", "number", "boolean":
		c.literal(v, t, path)
	}
}

func (c *bodyChecker) itemType(t typeNode) (typeRef, bool) {
	switch t.Kind {
	case "ArrayType":
		return *t.ItemType, true
	case "AnyType":
		return typeRef{}, true
	case "UnionType":
		for _, ref := range t.unionMembers() {
			if member, _ := c.set.get(ref); member.Kind == "ArrayType" {
				return *member.ItemType, true
			}
		}
	}
	return typeRef{}, false
}

// literal checks a string/number/boolean literal against t.
func (c *bodyChecker) literal(v *tree_sitter.Node, t typeNode, path string) {
	members := []typeNode{t}
	if t.Kind == "UnionType" {
		members = nil
		for _, ref := range t.unionMembers() {
			m, _ := c.set.get(ref)
			members = append(members, m)
		}
	}
	s, isPlainString := c.f.stringValue(v)
	var allowed []string
	for _, m := range members {
		switch {
		case m.Kind == "AnyType":
			return
		case v.Kind() == "string" && m.Kind == "StringType":
			return
		case v.Kind() == "string" && m.Kind == "StringLiteralType":
			if !isPlainString || s == m.literal() {
				return
			}
			allowed = append(allowed, m.literal())
		case v.Kind() == "number" && m.Kind == "IntegerType",
			v.Kind() == "boolean" && m.Kind == "BooleanType":
			return
		}
	}
	if len(allowed) > 0 {
		c.report(v, "%s: %q is not one of %s", path, s, strings.Join(allowed, ", "))
		return
	}
	c.report(v, "%s: a %s literal is written where the schema has %s", path, v.Kind(), describe(members))
}

func describe(members []typeNode) string {
	var kinds []string
	for _, m := range members {
		kinds = append(kinds, m.Kind)
	}
	return strings.Join(kinds, "|")
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := slices.AppendSeq(make([]string, 0, len(m)), maps.Keys(m))
	slices.Sort(keys)
	return keys
}
