package main

import (
	"errors"
	"fmt"
	"go/token"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"

	"github.com/natsrpc/natsrpc/internal/spec"
)

const (
	contextPackage = protogen.GoImportPath("context")
	errorsPackage  = protogen.GoImportPath("errors")
	natsrpcPackage = protogen.GoImportPath("github.com/natsrpc/natsrpc")
	// natsPackage stands for github.com/nats-io/nats.go: protogen names an
	// import after the last path element, which would give "nats_go", so
	// the generator uses this path and rewriteImport restores the real one
	// (connect-go's workaround for golang/protobuf#1205).
	natsPackage    = protogen.GoImportPath("github.com/nats-io/nats")
	natsImportPath = protogen.GoImportPath("github.com/nats-io/nats.go")

	generatedFilenameExtension = ".natsrpc.go"
	// versionGuard is the runtime constant that files with only unary
	// methods require; streamingVersionGuard the one files with streams or
	// events require. A file asks for no newer runtime than it needs, so
	// unary-only files still build against 0.1.0 and later. Add a guard
	// when generated code starts to need newer runtime API; when a runtime
	// release renames API generated code uses, move the files that use it
	// to a new guard and remove the old one from the runtime, so that code
	// generated before the rename stops at the guard (0.3.0 renamed the
	// stream types and removed IsAtLeastVersion0_2_0; natsrpc.go says more).
	versionGuard          = "IsAtLeastVersion0_1_0"
	streamingVersionGuard = "IsAtLeastVersion0_3_0"
)

func rewriteImport(importPath protogen.GoImportPath) protogen.GoImportPath {
	if importPath == natsPackage {
		return natsImportPath
	}
	return importPath
}

// fileGen is the plan for one generated file.
type fileGen struct {
	file        *protogen.File
	filename    string
	importPath  protogen.GoImportPath
	packageName protogen.GoPackageName
	services    []*serviceGen
}

// serviceGen is the plan for one service that is not skipped.
type serviceGen struct {
	service *protogen.Service
	spec    *spec.Service
	names   names
	// methods are the methods that are not skipped, generated or not.
	methods []*methodGen
}

// methodGen is the plan for one method that is not skipped.
type methodGen struct {
	method *protogen.Method
	spec   *spec.Method
	names  methodNames
	shape  *shape
}

// generated reports whether the method is in the interfaces.
func (m *methodGen) generated() bool { return m.shape.pending == "" }

func (s *serviceGen) generatedMethods() []*methodGen {
	var out []*methodGen
	for _, m := range s.methods {
		if m.generated() {
			out = append(out, m)
		}
	}
	return out
}

// versionGuard is the runtime constant the file's generated code requires.
func (f *fileGen) versionGuard() string {
	for _, s := range f.services {
		for _, m := range s.generatedMethods() {
			if m.spec.Kind != spec.KindUnary {
				return streamingVersionGuard
			}
		}
	}
	return versionGuard
}

func (f *fileGen) hasGeneratedMethods() bool {
	for _, s := range f.services {
		if len(s.generatedMethods()) > 0 {
			return true
		}
	}
	return false
}

// generate plans every file to generate, checks that no two generated Go
// identifiers of one package clash, and only then writes the files. It
// reports every problem it finds, not just the first.
func generate(plugin *protogen.Plugin, params *parameters, shapes map[spec.Kind]*shape) error {
	var (
		errs  []error
		plans []*fileGen
	)
	tables := make(map[protogen.GoImportPath]*symbolTable)
	for _, file := range plugin.Files {
		if !file.Generate {
			continue
		}
		plan, err := planFile(file, params, shapes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if plan == nil {
			continue
		}
		table := tables[plan.importPath]
		if table == nil {
			table = newSymbolTable()
			if plan.importPath == file.GoImportPath {
				// Same package as the .pb.go: protoc-gen-go's names are taken.
				table.addProtocGenGo(plugin.Files, file.GoImportPath)
			}
			tables[plan.importPath] = table
		}
		errs = append(errs, table.addFile(plan)...)
		plans = append(plans, plan)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, plan := range plans {
		generateFile(plugin, plan)
	}
	return nil
}

// planFile derives the NATS mapping of every service in file through
// internal/spec and decides where the code goes. It returns nil when the
// file has nothing to generate.
func planFile(file *protogen.File, params *parameters, shapes map[spec.Kind]*shape) (*fileGen, error) {
	var errs []error
	plan := &fileGen{
		file:        file,
		importPath:  file.GoImportPath,
		packageName: file.GoPackageName,
		filename:    file.GeneratedFilenamePrefix + generatedFilenameExtension,
	}
	for _, service := range file.Services {
		s, err := spec.ForService(service.Desc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if s.Skip {
			continue
		}
		if len(s.Methods) != len(service.Methods) {
			return nil, fmt.Errorf("%s: %s: spec returned %d methods for %d (internal error, please report it)",
				file.Desc.Path(), s.FullName, len(s.Methods), len(service.Methods))
		}
		sg := &serviceGen{service: service, spec: s, names: newNames(service)}
		for i, method := range service.Methods {
			m := s.Methods[i]
			if m.Skip {
				continue
			}
			sh := shapes[m.Kind]
			if sh == nil {
				return nil, fmt.Errorf("%s: %s: no generator for %s methods (internal error, please report it)",
					file.Desc.Path(), method.Desc.FullName(), m.Kind)
			}
			sg.methods = append(sg.methods, &methodGen{method: method, spec: m, names: newMethodNames(method), shape: sh})
		}
		plan.services = append(plan.services, sg)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(plan.services) == 0 {
		return nil, nil
	}
	if params.packageSuffix != "" {
		// connect-go's layout: <dir>/<pkg><suffix>/<file>.natsrpc.go.
		plan.packageName = file.GoPackageName + protogen.GoPackageName(params.packageSuffix)
		prefix := filepath.ToSlash(file.GeneratedFilenamePrefix)
		plan.filename = path.Join(path.Dir(prefix), string(plan.packageName), path.Base(prefix)) + generatedFilenameExtension
		plan.importPath = protogen.GoImportPath(path.Join(string(file.GoImportPath), string(plan.packageName)))
	}
	// protogen takes an explicit package name ("path;name") as written; one
	// that is no Go identifier ("example.com/x;000") would make the
	// generated file unparsable.
	if !token.IsIdentifier(string(plan.packageName)) {
		return nil, fmt.Errorf("%s: the Go package name %q (from go_package %q or an M parameter) is not a Go identifier; give a valid name after the \";\" in go_package",
			file.Desc.Path(), file.GoPackageName, file.Proto.GetOptions().GetGoPackage())
	}
	return plan, nil
}

// symbolTable records who generates each package-level Go identifier of one
// generated package, so that two services, two methods or a service and a
// protoc-gen-go message that would produce the same identifier are
// reported with both names instead of failing later in the Go compiler.
type symbolTable struct {
	owners map[string]symbolOwner
}

type symbolOwner struct {
	// element is the proto element and its file, e.g.
	// "acme.v1.Foo.Get (acme/v1/foo.proto)".
	element string
	// protocGenGo is set for identifiers of the .pb.go files.
	protocGenGo bool
}

func newSymbolTable() *symbolTable {
	return &symbolTable{owners: make(map[string]symbolOwner)}
}

// addFile records the identifiers of plan and returns one error per pair
// of clashing elements (the first clashing identifier is enough to name).
func (t *symbolTable) addFile(plan *fileGen) []error {
	var errs []error
	path := plan.file.Desc.Path()
	reported := make(map[[2]string]bool)
	add := func(element, ident string) {
		prev, ok := t.owners[ident]
		if !ok {
			t.owners[ident] = symbolOwner{element: fmt.Sprintf("%s (%s)", element, path)}
			return
		}
		if reported[[2]string{element, prev.element}] {
			return
		}
		reported[[2]string{element, prev.element}] = true
		problem := fmt.Sprintf("the generated Go identifier %s is also generated for %s; rename one of them", ident, prev.element)
		if prev.protocGenGo {
			problem = fmt.Sprintf("the generated Go identifier %s is also declared by protoc-gen-go for %s in the same Go package; rename one of them or set package_suffix", ident, prev.element)
		}
		errs = append(errs, &spec.Error{File: path, Element: element, Problem: problem})
	}
	for _, s := range plan.services {
		for _, ident := range s.names.identifiers() {
			add(s.spec.FullName, ident)
		}
		for _, m := range s.methods {
			add(string(m.method.Desc.FullName()), m.names.Subject)
			add(string(m.method.Desc.FullName()), m.names.Procedure)
		}
	}
	return errs
}

// addProtocGenGo records the identifiers protoc-gen-go declares for the
// files of the Go package importPath.
func (t *symbolTable) addProtocGenGo(files []*protogen.File, importPath protogen.GoImportPath) {
	for _, file := range files {
		if file.GoImportPath != importPath {
			continue
		}
		add := func(what string, ident protogen.GoIdent) {
			if _, ok := t.owners[ident.GoName]; !ok {
				t.owners[ident.GoName] = symbolOwner{element: fmt.Sprintf("%s (%s)", what, file.Desc.Path()), protocGenGo: true}
			}
		}
		add("file "+file.Desc.Path(), file.GoDescriptorIdent)
		var addEnum func(e *protogen.Enum)
		addEnum = func(e *protogen.Enum) {
			add("enum "+string(e.Desc.FullName()), e.GoIdent)
			for _, v := range e.Values {
				add("enum value "+string(v.Desc.FullName()), v.GoIdent)
			}
		}
		var addMessage func(m *protogen.Message)
		addMessage = func(m *protogen.Message) {
			add("message "+string(m.Desc.FullName()), m.GoIdent)
			for _, o := range m.Oneofs {
				for _, f := range o.Fields {
					add("oneof field "+string(f.Desc.FullName()), f.GoIdent)
				}
			}
			for _, e := range m.Enums {
				addEnum(e)
			}
			for _, n := range m.Messages {
				addMessage(n)
			}
			for _, x := range m.Extensions {
				add("extension "+string(x.Desc.FullName()), x.GoIdent)
			}
		}
		for _, e := range file.Enums {
			addEnum(e)
		}
		for _, m := range file.Messages {
			addMessage(m)
		}
		for _, x := range file.Extensions {
			add("extension "+string(x.Desc.FullName()), x.GoIdent)
		}
	}
}

// generator writes one file.
type generator struct {
	*protogen.GeneratedFile
	plan   *fileGen
	locals locals
}

// ident returns the qualified name of ident, importing its package.
func (g *generator) ident(ident protogen.GoIdent) string {
	return g.QualifiedGoIdent(ident)
}

func (g *generator) natsrpc(name string) string {
	return g.QualifiedGoIdent(natsrpcPackage.Ident(name))
}

func generateFile(plugin *protogen.Plugin, plan *fileGen) {
	g := &generator{GeneratedFile: plugin.NewGeneratedFile(plan.filename, plan.importPath), plan: plan}
	g.locals = newLocals(g.reserveImports())
	generatePreamble(g)
	generateConstants(g)
	for _, s := range plan.services {
		generateService(g, s)
	}
}

// reserveImports imports the packages the file uses, the runtime's first
// so that they keep their names (natsrpc, nats, context, errors) whatever
// the message packages are called, and returns the names given to all of
// them. protogen imports every package it is asked to qualify a name in, so
// only packages the file really uses are asked for.
func (g *generator) reserveImports() map[string]bool {
	used := make(map[string]bool)
	note := func(qualified string) {
		if i := strings.LastIndexByte(qualified, '.'); i >= 0 {
			used[qualified[:i]] = true
		}
	}
	note(g.natsrpc(g.plan.versionGuard()))
	note(g.ident(natsPackage.Ident("Conn")))
	if g.plan.hasGeneratedMethods() {
		note(g.ident(contextPackage.Ident("Context")))
		note(g.ident(errorsPackage.Ident("New")))
	}
	for _, s := range g.plan.services {
		note(g.ident(g.plan.file.GoDescriptorIdent))
		for _, m := range s.generatedMethods() {
			note(g.ident(m.method.Input.GoIdent))
			if !m.shape.noResponse {
				note(g.ident(m.method.Output.GoIdent))
			}
		}
	}
	return used
}

func generatePreamble(g *generator) {
	file := g.plan.file
	g.P("// Code generated by protoc-gen-natsrpc. DO NOT EDIT.")
	g.P("//")
	g.P("// Source: ", file.Desc.Path())
	if file.Proto.GetOptions().GetDeprecated() {
		g.P("//")
		wrapComments(g.GeneratedFile, file.Desc.Path(), " is a deprecated file.")
	}
	g.P()
	g.P("package ", g.plan.packageName)
	g.P()
	wrapComments(g.GeneratedFile, "This is a compile-time assertion to ensure that this generated file and the natsrpc ",
		"package are compatible. If you get a compiler error that this constant is not defined, this code and ",
		"the natsrpc runtime compiled into your binary are from different releases: the code was generated for ",
		"a newer runtime, or before the runtime renamed API it uses. Fix it by regenerating this code with the ",
		"protoc-gen-natsrpc of the runtime you use, or by moving the runtime (go get github.com/natsrpc/natsrpc@<version>) ",
		"to the release protoc-gen-natsrpc --version prints.")
	g.P("const _ = ", g.natsrpc(g.plan.versionGuard()))
	g.P()
}

func generateConstants(g *generator) {
	services := g.plan.services
	g.P("const (")
	for _, s := range services {
		wrapComments(g.GeneratedFile, s.names.ServiceName, " is the fully-qualified name of the ", s.service.Desc.Name(), " service.")
		g.P(s.names.ServiceName, " = ", strconv.Quote(s.spec.FullName))
	}
	g.P(")")
	g.P()

	wrapComments(g.GeneratedFile, "These constants are the NATS subjects of the methods defined in this file: ",
		"the proto package, service and method names joined by dots, unless the natsrpc.v1 options change them. ",
		"Clients and handlers given natsrpc.WithSubjectPrefix prepend that prefix and a dot at runtime.")
	g.P("const (")
	for _, s := range services {
		wrapComments(g.GeneratedFile, s.names.SubjectWildcard, " matches the subject of every ", s.service.Desc.Name(),
			" method, for NATS permissions and monitoring.")
		g.P(s.names.SubjectWildcard, " = ", strconv.Quote(s.spec.SubjectBase+".>"))
		for _, m := range s.methods {
			wrapComments(g.GeneratedFile, m.names.Subject, " is the NATS subject of the ", s.service.Desc.Name(), "'s ",
				m.method.Desc.Name(), " ", m.shape.noun, ".")
			g.P(m.names.Subject, " = ", strconv.Quote(m.spec.Subject))
		}
	}
	g.P(")")
	g.P()

	var procedures []*methodGen
	for _, s := range services {
		procedures = append(procedures, s.methods...)
	}
	if len(procedures) == 0 {
		return
	}
	wrapComments(g.GeneratedFile, "These constants are the procedure names of the methods defined in this file, ",
		`in the "/package.Service/Method" form of gRPC and Connect.`)
	g.P("const (")
	for _, m := range procedures {
		wrapComments(g.GeneratedFile, m.names.Procedure, " is the procedure name of the ", m.method.Parent.Desc.Name(), "'s ",
			m.method.Desc.Name(), " ", m.shape.noun, ".")
		g.P(m.names.Procedure, " = ", strconv.Quote(m.spec.Procedure))
	}
	g.P(")")
	g.P()
}

func generateService(g *generator, s *serviceGen) {
	generateClientInterface(g, s)
	generateClientConstructor(g, s)
	generateHandlerInterface(g, s)
	generateRegisterHandler(g, s)
	generateUnimplementedHandler(g, s)
	// The unexported implementation goes last.
	generateClientImplementation(g, s)
}

func generateClientInterface(g *generator, s *serviceGen) {
	docComments(g.GeneratedFile, s.service.Comments.Leading, s.spec.Deprecated,
		s.names.Client, " is a client for the ", s.spec.FullName, " service.")
	g.AnnotateSymbol(s.names.Client, protogen.Annotation{Location: s.service.Location})
	g.P("type ", s.names.Client, " interface {")
	for _, m := range s.methods {
		if !m.generated() {
			leftOutComment(g, m)
			continue
		}
		leadingComments(g.GeneratedFile, m.method.Comments.Leading, m.spec.Deprecated)
		g.AnnotateSymbol(s.names.Client+"."+m.method.GoName, protogen.Annotation{Location: m.method.Location})
		g.P(m.method.GoName, clientSignature(g, m, false))
	}
	g.P("}")
	g.P()
}

func generateClientConstructor(g *generator, s *serviceGen) {
	l := g.locals
	wrapComments(g.GeneratedFile, s.names.ClientConstructor, " constructs a client for the ", s.spec.FullName,
		" service that calls it over ", l.conn, ". The options apply to every method.")
	if s.spec.Deprecated {
		g.P("//")
		deprecated(g.GeneratedFile)
	}
	g.P("func ", s.names.ClientConstructor, "(", l.conn, " *", g.ident(natsPackage.Ident("Conn")), ", ", l.opts, " ...",
		g.natsrpc("ClientOption"), ") ", s.names.Client, " {")
	methods := s.generatedMethods()
	if len(methods) == 0 {
		g.P("return &", s.names.ClientImpl, "{}")
		g.P("}")
		g.P()
		return
	}
	g.P(l.methods, " := ", g.ident(g.plan.file.GoDescriptorIdent), ".Services().ByName(", strconv.Quote(string(s.service.Desc.Name())), ").Methods()")
	g.P("return &", s.names.ClientImpl, "{")
	for _, m := range methods {
		g.P(m.names.ClientField, ": ", g.natsrpc(m.shape.newClient), "[", m.shape.typeArgs(g, m), "](", l.conn, ", ",
			l.methods, ".ByName(", strconv.Quote(string(m.method.Desc.Name())), "), ", l.opts, "...),")
	}
	g.P("}")
	g.P("}")
	g.P()
}

func generateClientImplementation(g *generator, s *serviceGen) {
	methods := s.generatedMethods()
	wrapComments(g.GeneratedFile, s.names.ClientImpl, " implements ", s.names.Client, ".")
	if len(methods) == 0 {
		g.P("type ", s.names.ClientImpl, " struct{}")
		g.P()
		return
	}
	g.P("type ", s.names.ClientImpl, " struct {")
	for _, m := range methods {
		g.P(m.names.ClientField, " *", g.natsrpc(m.shape.clientType), "[", m.shape.typeArgs(g, m), "]")
	}
	g.P("}")
	g.P()
	for _, m := range methods {
		verb := " calls "
		if m.shape.noResponse {
			verb = " publishes the event "
		}
		wrapComments(g.GeneratedFile, m.method.GoName, verb, m.method.Desc.FullName(), ".")
		g.P("func (c *", s.names.ClientImpl, ") ", m.method.GoName, clientSignature(g, m, true), " {")
		if m.shape.noRequest {
			g.P("return c.", m.names.ClientField, ".", m.shape.call, "(ctx, opts...)")
		} else {
			g.P("return c.", m.names.ClientField, ".", m.shape.call, "(ctx, req, opts...)")
		}
		g.P("}")
		g.P()
	}
}

func generateHandlerInterface(g *generator, s *serviceGen) {
	docComments(g.GeneratedFile, s.service.Comments.Leading, s.spec.Deprecated,
		s.names.Handler, " is an implementation of the ", s.spec.FullName, " service.")
	g.AnnotateSymbol(s.names.Handler, protogen.Annotation{Location: s.service.Location})
	g.P("type ", s.names.Handler, " interface {")
	for _, m := range s.methods {
		if !m.generated() {
			leftOutComment(g, m)
			continue
		}
		leadingComments(g.GeneratedFile, m.method.Comments.Leading, m.spec.Deprecated)
		g.AnnotateSymbol(s.names.Handler+"."+m.method.GoName, protogen.Annotation{Location: m.method.Location})
		g.P(m.method.GoName, handlerSignature(g, m))
	}
	g.P("}")
	g.P()
}

// clientSignature is the parameter and result list of the client method
// for m, with parameter names in the implementation (named).
func clientSignature(g *generator, m *methodGen, named bool) string {
	ctx, req, opts := "", "", ""
	if named {
		ctx, req, opts = "ctx ", "req ", "opts "
	}
	params := ctx + g.ident(contextPackage.Ident("Context"))
	if !m.shape.noRequest {
		params += ", " + req + "*" + g.ident(m.method.Input.GoIdent)
	}
	return "(" + params + ", " + opts + "..." + g.natsrpc("CallOption") + ") " + m.shape.clientResults(g, m)
}

// handlerSignature is the parameter and result list of the handler method
// for m, without parameter names.
func handlerSignature(g *generator, m *methodGen) string {
	return "(" + g.ident(contextPackage.Ident("Context")) + ", " + m.shape.handlerParams(g, m) + ") " + m.shape.handlerResults(g, m)
}

func generateRegisterHandler(g *generator, s *serviceGen) {
	l := g.locals
	wrapComments(g.GeneratedFile, s.names.RegisterHandler, " serves ", l.impl, " as the ", s.spec.FullName,
		" service over ", l.conn, ", one NATS endpoint per method on the subjects above, and returns the running service.")
	if s.spec.Deprecated {
		g.P("//")
		deprecated(g.GeneratedFile)
	}
	g.P("func ", s.names.RegisterHandler, "(", l.conn, " *", g.ident(natsPackage.Ident("Conn")), ", ", l.impl, " ", s.names.Handler,
		", ", l.opts, " ...", g.natsrpc("HandlerOption"), ") (*", g.natsrpc("Service"), ", error) {")
	g.P(l.service, " := ", g.ident(g.plan.file.GoDescriptorIdent), ".Services().ByName(", strconv.Quote(string(s.service.Desc.Name())), ")")
	methods := s.generatedMethods()
	if len(methods) == 0 {
		g.P("return ", g.natsrpc("NewService"), "(", l.conn, ", ", l.service, ", nil, ", l.opts, "...)")
		g.P("}")
		g.P()
		return
	}
	g.P(l.methods, " := ", l.service, ".Methods()")
	g.P("return ", g.natsrpc("NewService"), "(", l.conn, ", ", l.service, ", []", g.natsrpc("Handler"), "{")
	for _, m := range methods {
		g.P(g.natsrpc(m.shape.newHandler), "(", l.methods, ".ByName(", strconv.Quote(string(m.method.Desc.Name())), "), ",
			l.impl, ".", m.method.GoName, "),")
	}
	g.P("}, ", l.opts, "...)")
	g.P("}")
	g.P()
}

func generateUnimplementedHandler(g *generator, s *serviceGen) {
	wrapComments(g.GeneratedFile, s.names.UnimplementedHandler, " returns natsrpc.CodeUnimplemented from all methods. ",
		"Embed it by value in an implementation of ", s.names.Handler, " to answer CodeUnimplemented from the methods ",
		"it does not implement, including methods added to the service later.")
	g.P("type ", s.names.UnimplementedHandler, " struct{}")
	g.P()
	for _, m := range s.generatedMethods() {
		g.P("func (", s.names.UnimplementedHandler, ") ", m.method.GoName, handlerSignature(g, m), " {")
		g.P("return ", m.shape.zeroResults, g.natsrpc("NewError"), "(", g.natsrpc("CodeUnimplemented"), ", ",
			g.ident(errorsPackage.Ident("New")), "(", strconv.Quote(string(m.method.Desc.FullName())+" is not implemented"), "))")
		g.P("}")
		g.P()
	}
}

// leftOutComment says, inside an interface, that m is not generated and why.
func leftOutComment(g *generator, m *methodGen) {
	wrapComments(g.GeneratedFile, m.method.GoName, " (", m.shape.label, ") is not generated yet: ", m.shape.pending, ".")
}
