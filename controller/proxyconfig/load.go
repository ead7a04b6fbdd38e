package proxyconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	yamlv3 "go.yaml.in/yaml/v3"
	sigjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// MaxFileSize bounds the configuration file: a real one is a few
// kilobytes, and reading /dev/zero by mistake must fail, not exhaust
// memory.
const MaxFileSize = 1 << 20

// ReadFile reads and decodes the file at path (see Decode), with the
// path in every error.
func ReadFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileSize)
	}
	c, err := Decode(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Decode reads one KubeProxyConfiguration document, YAML or JSON. Unlike
// kube-proxy, which falls back to lenient decoding and logs a warning,
// every unknown, misspelt (keys are case-sensitive) or repeated field is
// an error, all of them reported at once with their paths. The only
// addition to kube-proxy's schema is the top-level `ipvsd:` key.
func Decode(data []byte) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(data)) == 0 {
		return c, errors.New("empty file: want a " + Kind)
	}
	if err := singleDocument(data); err != nil {
		return c, err
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return c, err
	}
	strict, err := sigjson.UnmarshalStrict(js, &c)
	if err != nil {
		return c, err
	}
	var errs []error
	errs = append(errs, strict...)
	if c.APIVersion != APIVersion || c.Kind != Kind {
		errs = append(errs, fmt.Errorf("apiVersion %q, kind %q: want apiVersion %s, kind %s", c.APIVersion, c.Kind, APIVersion, Kind))
	}
	return c, errors.Join(errs...)
}

// singleDocument rejects a YAML stream of several documents: kube-proxy
// reads only the first, and a second one is a mistake nobody would see.
func singleDocument(data []byte) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for n := 0; ; n++ {
		var doc yamlv3.Node
		err := dec.Decode(&doc)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		case n > 0:
			return errors.New("more than one YAML document: want exactly one " + Kind)
		}
	}
}

// Marshal renders c as the YAML file it would be read from, for
// --write-config-to.
func Marshal(c Config) ([]byte, error) {
	return yaml.Marshal(c)
}
