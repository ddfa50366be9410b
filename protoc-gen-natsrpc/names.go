package main

import (
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
)

// names are the Go identifiers generated for one service. It is the one
// place the naming scheme lives (connect-go's newNames); the package doc
// lists it. Other tools rely on these names: add new ones, never rename.
type names struct {
	// ServiceName is the constant holding the service's full proto name.
	ServiceName string
	// SubjectWildcard is the constant matching every subject of the service.
	SubjectWildcard string
	// Client is the client interface.
	Client string
	// ClientConstructor builds a Client.
	ClientConstructor string
	// ClientImpl is the unexported type implementing Client.
	ClientImpl string
	// Handler is the interface a server implements.
	Handler string
	// RegisterHandler serves a Handler.
	RegisterHandler string
	// UnimplementedHandler answers CodeUnimplemented from every method.
	UnimplementedHandler string
}

func newNames(service *protogen.Service) names {
	base := service.GoName
	return names{
		ServiceName:          base + "Name",
		SubjectWildcard:      base + "SubjectWildcard",
		Client:               base + "Client",
		ClientConstructor:    "New" + base + "Client",
		ClientImpl:           lowerFirst(base) + "Client",
		Handler:              base + "Handler",
		RegisterHandler:      "Register" + base + "Handler",
		UnimplementedHandler: "Unimplemented" + base + "Handler",
	}
}

// identifiers returns the package-level identifiers of n in a fixed order,
// for the clash check.
func (n names) identifiers() []string {
	return []string{
		n.ServiceName, n.SubjectWildcard,
		n.Client, n.ClientConstructor, n.ClientImpl,
		n.Handler, n.RegisterHandler, n.UnimplementedHandler,
	}
}

// methodNames are the Go identifiers generated for one method.
type methodNames struct {
	// Subject is the constant holding the method's NATS subject.
	Subject string
	// Procedure is the constant holding "/<service>/<method>".
	Procedure string
	// ClientField is the client implementation's field for the method.
	ClientField string
}

func newMethodNames(method *protogen.Method) methodNames {
	base := method.Parent.GoName + method.GoName
	return methodNames{
		Subject:     base + "Subject",
		Procedure:   base + "Procedure",
		ClientField: unexport(method.GoName),
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// unexport lowers the first letter of s and prefixes "_" when the result is
// a Go keyword, as connect-go does: a method named Type gets the field
// _type.
func unexport(s string) string {
	lowered := lowerFirst(s)
	switch lowered {
	// https://go.dev/ref/spec#Keywords
	case "break", "default", "func", "interface", "select",
		"case", "defer", "go", "map", "struct",
		"chan", "else", "goto", "package", "switch",
		"const", "fallthrough", "if", "range", "type",
		"continue", "for", "import", "return", "var":
		return "_" + lowered
	default:
		return lowered
	}
}

// locals are the names of the parameters and variables in generated
// function bodies that also refer to imported packages. Each defaults to a
// short name and gets a trailing "_" when an imported package already uses
// it (a message package named "service", say), so that no local shadows a
// package the body needs.
type locals struct {
	conn, opts, impl, service, methods string
}

func newLocals(packageNames map[string]bool) locals {
	taken := make(map[string]bool, len(packageNames))
	for name := range packageNames {
		taken[name] = true
	}
	pick := func(want string) string {
		name := want
		for i := 1; taken[name]; i++ {
			name = want + strings.Repeat("_", i)
		}
		taken[name] = true
		return name
	}
	return locals{
		conn:    pick("nc"),
		opts:    pick("opts"),
		impl:    pick("impl"),
		service: pick("service"),
		methods: pick("methods"),
	}
}
