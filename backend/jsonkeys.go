package backend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/meshdock/meshdock"
	"github.com/meshdock/meshdock/app"
)

// keyRule says which keys an object of the request may have: fields (nil
// for any key, as in env) and the rules of their values; elem is the rule
// of the objects in an array.
type keyRule struct {
	fields []string
	about  string // what a message says of the fields
	sub    map[string]*keyRule
	elem   *keyRule
}

var (
	fileKeys    = &keyRule{fields: jsonFields(reflect.TypeFor[FileUpload]()), about: "a file has the fields"}
	requestKeys = &keyRule{fields: jsonFields(reflect.TypeFor[ImportRequest]()), about: "the fields are",
		sub: map[string]*keyRule{"files": {elem: fileKeys}, "env": {}}}
	deployKeys = &keyRule{fields: jsonFields(reflect.TypeFor[app.DeployRequest]()), about: "the fields are",
		sub: map[string]*keyRule{"options": {fields: jsonFields(reflect.TypeFor[meshdock.DeployOptions]()), about: "options has the fields"},
			"policy": {}}}
)

// maxDepth is deeper than any request is nested: a body of brackets only
// costs a walk no more than that.
const maxDepth = 32

// checkKeys walks a JSON body once before it is decoded, and refuses what
// decoding would let pass without a word: a key given twice in an object,
// at any depth (the decoder keeps the last), and a key the request does
// not have, named with where it is (files[2], not only its name). Syntax
// and type errors are left to the decoder, which says them better.
func checkKeys(body []byte, rule *keyRule) error {
	type frame struct {
		obj     bool
		rule    *keyRule
		where   string
		seen    map[string]bool
		n       int // values of an array so far
		key     string
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top == nil && tok != json.Delim('{') {
			return nil // not an object: the decoder says so
		}
		ended := false
		switch {
		case top != nil && top.obj && top.wantKey && tok == json.Delim('}'):
			stack, ended = stack[:len(stack)-1], true
		case top != nil && top.obj && top.wantKey:
			key, _ := tok.(string)
			if top.seen[key] {
				return meshdock.Errorf(meshdock.EINVALID, "key %s is given twice in %s", quoteName(key), top.where)
			}
			if r := top.rule; r != nil && r.fields != nil && !slices.Contains(r.fields, key) {
				in := ""
				if top.where != "the request" {
					in = " in " + top.where
				}
				return meshdock.Errorf(meshdock.EINVALID, "unknown field %s%s: %s %s", quoteName(key), in, r.about, list(r.fields))
			}
			top.seen[key], top.key, top.wantKey = true, key, false
		case tok == json.Delim('{') || tok == json.Delim('['):
			if len(stack) >= maxDepth {
				return meshdock.Errorf(meshdock.EINVALID, "malformed JSON: nested deeper than %d levels", maxDepth)
			}
			f := &frame{obj: tok == json.Delim('{'), seen: map[string]bool{}, wantKey: tok == json.Delim('{')}
			switch {
			case top == nil:
				f.rule, f.where = rule, "the request"
			case top.obj:
				f.where = top.key
				if r := top.rule; r != nil && r.sub[top.key] != nil && (r.sub[top.key].elem != nil) == !f.obj {
					f.rule = r.sub[top.key]
				}
			default:
				f.where = fmt.Sprintf("%s[%d]", top.where, top.n)
				if top.rule != nil && f.obj {
					f.rule = top.rule.elem
				}
			}
			stack = append(stack, f)
		case tok == json.Delim(']'):
			stack, ended = stack[:len(stack)-1], true
		default:
			ended = true // a scalar value
		}
		if !ended {
			continue
		}
		if len(stack) == 0 {
			return nil // the body's value is read: the decoder checks what follows
		}
		if parent := stack[len(stack)-1]; parent.obj {
			parent.wantKey = true
		} else {
			parent.n++
		}
	}
}

// jsonFields lists the JSON names of a struct's fields.
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// list writes names as "a, b and c".
func list(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
