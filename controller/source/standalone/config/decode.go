package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// MaxFileSize bounds the config file: 16 MiB is twice a file of 10,000
// services with 10 backends each written in block style (7.7 MB, which
// takes about 370 MB to parse), and keeps a mistaken --config /dev/zero
// (or a runaway generator) from exhausting memory.
const MaxFileSize = 16 << 20

// ErrEmpty is the error for a file with no content: an editor or `cat >`
// caught mid-write, which must never be read as "no services".
var ErrEmpty = errors.New("the file is empty (only whitespace or comments): write services: [] to run no services")

// Read reads a config from r, failing as soon as it exceeds MaxFileSize.
func Read(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes (%d MiB), the limit", MaxFileSize, MaxFileSize>>20)
	}
	return data, nil
}

// ReadFile is Read for the file at path.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	return data, nil
}

// decode fills c from data strictly: keys match case-sensitively, and
// every unknown or duplicate key and every value of the wrong type is
// reported with its path, alongside each other. It returns a non-nil fatal
// error when the file cannot be read as one YAML mapping at all; the
// problems it found otherwise are in p, and c holds every value that was
// of the right type.
func decode(data []byte, c *Config, p *problems) (fatal error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return ErrEmpty
	}
	if decodeClean(data, c) {
		return nil
	}
	*c = Config{}
	return decodeReporting(data, c, p)
}

// decodeClean is decode for a file with nothing to report, which is every
// file a daemon reloads: one YAML parse and one strict decode, where
// decodeReporting parses twice and walks the tree to find every problem
// with its path (at 10,000 services, 2.5 s of a 5.6 s parse). It returns
// false, leaving c in any state, whenever decodeReporting might have
// something to say: a document marker, a duplicate key, an unknown field
// or a type error, or a file that is not one mapping.
func decodeClean(data []byte, c *Config) bool {
	if hasDocumentMarker(data) {
		return false
	}
	// Strict here means duplicate keys are an error; the target is a
	// generic tree, so there are no unknown fields at this stage.
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(j), []byte("{")) {
		return false
	}
	strict, err := kjson.UnmarshalStrict(j, c)
	return err == nil && len(strict) == 0
}

// hasDocumentMarker reports a line starting with "---" or "...": YAML
// forbids both at the start of a line inside any content, so a file
// without one is a single document (and one with a marker takes the
// reporting path, which tells a second document from a harmless
// leading or trailing one).
func hasDocumentMarker(data []byte) bool {
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(line, []byte("---")) || bytes.HasPrefix(line, []byte("...")) {
			return true
		}
	}
	return false
}

// decodeReporting is decode that finds every problem.
func decodeReporting(data []byte, c *Config, p *problems) (fatal error) {
	root, err := oneDocument(data)
	if err != nil {
		return err
	}
	duplicateKeys("", root, p)
	// sigs.k8s.io/yaml converts YAML to JSON the way kubectl does (YAML
	// 1.1 scalars: `on` is true, `"80"` a string); the tree is typed by
	// the same decoder that fills c.
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	var tree any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(j, &tree); err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	labels := map[string]string{}
	checkTypes("", tree, reflect.TypeFor[Config](), p, labels)
	// What is left is of the right type, so the strict decoder (which
	// stops at the first type error) reports every unknown field.
	if j, err = json.Marshal(tree); err != nil {
		return fmt.Errorf("re-encoding the config: %w", err)
	}
	strict, err := kjson.UnmarshalStrict(j, c)
	if err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	for _, e := range strict {
		var fe kjson.FieldError
		if errors.As(e, &fe) {
			fe.SetFieldPath(relabel(boundPath(fe.FieldPath()), labels))
		}
		p.errs = append(p.errs, e)
	}
	return nil
}

// oneDocument parses data as YAML and returns its only document's root,
// which must be a mapping. A second document would be silently dropped by
// the conversion to JSON, so it is an error.
func oneDocument(data []byte) (*yamlv3.Node, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var root yamlv3.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrEmpty
		}
		return nil, fmt.Errorf("YAML: %w", err)
	}
	for {
		// A trailing "---" with nothing after it drops nothing.
		var next yamlv3.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("YAML: %w", err)
		}
		if n := content(&next); n.Kind != yamlv3.ScalarNode || n.ShortTag() != "!!null" || n.Value != "" {
			return nil, fmt.Errorf("line %d: a second YAML document: a config file holds exactly one", next.Line)
		}
	}
	doc := content(&root)
	if doc.Kind == yamlv3.ScalarNode && doc.ShortTag() == "!!null" {
		return nil, ErrEmpty
	}
	if doc.Kind != yamlv3.MappingNode {
		return nil, fmt.Errorf("line %d: the file must be a mapping (interface:, masquerade:, services:)", doc.Line)
	}
	return doc, nil
}

// content is a document's root node.
func content(doc *yamlv3.Node) *yamlv3.Node {
	if doc.Kind == yamlv3.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

// duplicateKeys reports every key that appears twice in one mapping. The
// conversion to JSON keeps the last silently; an operator who wrote two
// means one of them is a mistake.
func duplicateKeys(path string, n *yamlv3.Node, p *problems) {
	switch n.Kind {
	case yamlv3.MappingNode:
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kpath := joinPath(path, k.Value)
			if line, dup := first[k.Value]; dup {
				p.add(kpath, "duplicate key (line %d, first at line %d)", k.Line, line)
			} else {
				first[k.Value] = k.Line
			}
			duplicateKeys(kpath, v, p)
		}
	case yamlv3.SequenceNode:
		for i, e := range n.Content {
			duplicateKeys(path+elemLabel(i, nodeName(e)), e, p)
		}
	}
}

// nodeName is the value of a mapping's name key, if it has one.
func nodeName(n *yamlv3.Node) any {
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if v := n.Content[i+1]; n.Content[i].Value == "name" && v.Kind == yamlv3.ScalarNode && v.ShortTag() == "!!str" {
			return v.Value
		}
	}
	return nil
}

// checkTypes walks v, the file as decoded JSON, beside t, the type it is
// decoded into. It reports every value of the wrong type with its path and
// removes it from v (a mapping's key is deleted, a list element becomes
// null), so the other values can still be decoded and validated. Scalars
// are tried with the library's decoder itself, so what fits (integer
// ranges, numbers versus strings) is exactly what decoding accepts. It
// records each labelled list element's index path in labels.
func checkTypes(path string, v any, t reflect.Type, p *problems, labels map[string]string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return true // null leaves the field unset; Validate decides
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			p.bad(path, "want a mapping, not %s", describe(v))
			return false
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			if fv, present := m[name]; present && !checkTypes(joinPath(path, name), fv, f.Type, p, labels) {
				delete(m, name)
			}
		}
		return true
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			p.bad(path, "want a list, not %s", describe(v))
			return false
		}
		for i, e := range list {
			var name any
			if m, ok := e.(map[string]any); ok {
				name = m["name"]
			}
			epath := path + elemLabel(i, name)
			labels[fmt.Sprintf("%s[%d]", path, i)] = epath
			if !checkTypes(epath, e, t.Elem(), p, labels) {
				list[i] = nil
			}
		}
		return true
	}
	b, err := json.Marshal(v)
	if err == nil {
		err = kjson.UnmarshalCaseSensitivePreserveInts(b, reflect.New(t).Interface())
	}
	if err != nil {
		p.bad(path, "want %s, not %s", kindName(t), describe(v))
		return false
	}
	return true
}

// elemLabel is a list element's part of a path: [name] for an element
// with a valid name (as Validate labels services), else [index].
func elemLabel(i int, name any) string {
	if s, ok := name.(string); ok && validName(s) {
		return "[" + s + "]"
	}
	return fmt.Sprintf("[%d]", i)
}

// joinPath appends a key to a path, cut short if the key is long (an
// unknown key can be anything).
func joinPath(path, key string) string {
	if path == "" {
		return truncate(key)
	}
	return path + "." + truncate(key)
}

// boundPath cuts the decoder's path short: an unknown key can be anything.
func boundPath(path string) string {
	const max = 4 * maxQuoted
	if len(path) <= max {
		return path
	}
	return path[:max] + fmt.Sprintf("... (%d bytes)", len(path))
}

// relabel turns the decoder's index path (services[0].backends[1].x) into
// the labelled one Validate uses (services[web].backends[1].x).
func relabel(path string, labels map[string]string) string {
	best := ""
	for k := range labels {
		if len(k) > len(best) && strings.HasPrefix(path, k) && (len(path) == len(k) || path[len(k)] == '.' || path[len(k)] == '[') {
			best = k
		}
	}
	if best == "" {
		return path
	}
	return labels[best] + path[len(best):]
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return t.Kind().String()
}

// describe names a decoded JSON value for an error message, quoting at
// most a short prefix of it.
func describe(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "the string " + quote(v)
	case bool:
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(v)
	return "the number " + truncate(string(b))
}
