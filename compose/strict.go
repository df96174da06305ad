package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	yaml4 "go.yaml.in/yaml/v4"
	"gopkg.in/yaml.v3"

	"github.com/meshdock/meshdock"
)

// parseCompose parses a compose file for meshdock's own checks, which must
// see the file as compose-go will. compose-go parses with another YAML
// library and treats some forms its own way, so the forms no compose file
// needs, where the two could part, are refused: more than one YAML
// document (compose-go merges them, the checks would read the first),
// explicit tags other than compose's !reset and !override and the plain
// scalar ones (!!binary hides its text), and mapping keys that are not
// plain scalars (an alias as a key names its anchor's value). A file the
// checks cannot parse is refused too, never left unchecked. It
// returns the top-level mapping, or nil for a file holding none (compose-go
// then says what is wrong).
func parseCompose(name string, content []byte) (*yaml.Node, error) {
	// compose-go's own parser first: what it cannot parse is refused here
	// with its own message, before compose-go runs; what it parses into
	// more than one document is refused.
	dec4 := yaml4.NewDecoder(bytes.NewReader(content))
	docs := 0
	for {
		var n yaml4.Node
		err := dec4.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// At the end of the file, this parser names the line after it;
			// the checks' parser names the line the unclosed value starts.
			var n3 yaml.Node
			if err3 := yaml.Unmarshal(content, &n3); err3 != nil && strings.Contains(err.Error(), "unexpected end of stream") {
				err = err3
			}
			return nil, fmt.Errorf("failed to parse %s: %w", name, err)
		}
		if docs++; docs > 1 {
			return nil, meshdock.Errorf(meshdock.EINVALID, "%s:%d: the file holds more than one YAML document: put the project in one", name, n.Line)
		}
	}
	if docs == 0 {
		return nil, nil
	}
	// Then the checks' parser: a file it reads otherwise is not checked
	// but refused.
	var doc yaml.Node
	if err := yaml.Unmarshal(content, &doc); err != nil {
		return nil, meshdock.Wrap(meshdock.EINVALID, err, "%s: meshdock cannot check this YAML (%v): write it more plainly", name, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	if err := strictNodes(name, doc.Content[0], 0); err != nil {
		return nil, err
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	return doc.Content[0], nil
}

// parseChecked runs checkYAML, then parseCompose: what every compose file
// meshdock reads goes through before its content is looked at.
func parseChecked(name string, content []byte) (*yaml.Node, error) {
	if err := checkYAML(name, content); err != nil {
		return nil, err
	}
	return parseCompose(name, content)
}

// allowedTags are the tags a compose file may write explicitly.
var allowedTags = map[string]bool{"!reset": true, "!override": true, "!!str": true, "!!int": true,
	"!!float": true, "!!bool": true, "!!null": true, "!!map": true, "!!seq": true}

// strictNodes refuses the forms parseCompose explains, in the nodes as
// written (aliases are not followed: their targets are checked where they
// are written).
func strictNodes(name string, n *yaml.Node, depth int) error {
	if depth > 2*maxYAMLDepth {
		return meshdock.Errorf(meshdock.EINVALID, "%s:%d: the YAML exceeds the maximum nesting depth of %d", name, n.Line, maxYAMLDepth)
	}
	if n.Style&yaml.TaggedStyle != 0 && !allowedTags[n.Tag] {
		return meshdock.Errorf(meshdock.EINVALID, "%s:%d: the tag %s is not supported in compose files", name, n.Line, n.Tag)
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind != yaml.ScalarNode {
				what := "an alias"
				if k.Kind != yaml.AliasNode {
					what = "a mapping or a list"
				}
				return meshdock.Errorf(meshdock.EINVALID, "%s:%d: a key is %s: compose keys are plain names", name, k.Line, what)
			}
		}
	}
	for _, c := range n.Content {
		if err := strictNodes(name, c, depth+1); err != nil {
			return err
		}
	}
	return nil
}
