package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyTheRunnerWrites keeps the Runner the one owner of every state
// change: channel adapters, the API and the console may use the store's value types
// (Patient, Event, OutboxEntry, the Err values) but not the Store, its role
// interfaces or its functions. They reach the store through narrow
// interfaces the Runner implements (the dispatcher's Outbox is one the
// store implements). Test harnesses (packages named *test) wire real
// stores and are left out.
func TestOnlyTheRunnerWrites(t *testing.T) {
	allowed := valueNames(t)
	for _, root := range []string{"../channels", "../api", "../console"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if d.IsDir() && strings.HasSuffix(d.Name(), "test") && d.Name() != "test" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			name := ""
			for _, im := range f.Imports {
				if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/tendcare/tend/store" {
					name = "store"
					if im.Name != nil {
						name = im.Name.Name
					}
				}
			}
			if name == "" {
				return nil
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && !allowed[sel.Sel.Name] {
						t.Errorf("%s uses store.%s: ask the Runner through a narrow interface instead", path, sel.Sel.Name)
					}
				}
				return true
			})
			return nil
		})
	}
}

// valueNames are the store's exported names that are values: structs,
// aliases of them, constants and variables (the Err values).
func valueNames(t *testing.T) map[string]bool {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok {
				continue // functions and methods are behaviour
			}
			for _, spec := range g.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if _, iface := s.Type.(*ast.InterfaceType); !iface {
						names[s.Name.Name] = true
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				}
			}
		}
	}
	return names
}
