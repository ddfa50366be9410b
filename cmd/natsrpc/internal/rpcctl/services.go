package rpcctl

import (
	"fmt"
	"io"
	"strconv"

	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/cli"
	"github.com/natsrpc/natsrpc/cmd/natsrpc/internal/schema"
)

// ServicesDoc is the `services --format json` document.
type ServicesDoc struct {
	Services []ServiceSummary `json:"services"`
}

// ServiceSummary is one service in [ServicesDoc].
type ServiceSummary struct {
	Service string `json:"service"`
	Methods int    `json:"methods"`
	// From is where the descriptors came from: "gaming@3", a file name or
	// "instance <name> <id>".
	From    string `json:"from"`
	Module  string `json:"module,omitempty"`
	Version uint64 `json:"version,omitempty"`
	File    string `json:"file"`
}

// ServiceDoc is the `services SERVICE --format json` document.
type ServiceDoc struct {
	ServiceSummary
	MethodList []MethodDoc `json:"method_list"`
}

// MethodDoc is one method in [ServiceDoc].
type MethodDoc struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	Request  string `json:"request"`
	Response string `json:"response"`
}

func summary(s *schema.Service) ServiceSummary {
	return ServiceSummary{
		Service: s.FullName,
		Methods: len(s.Methods),
		From:    s.Origin.String(),
		Module:  s.Origin.Module,
		Version: s.Origin.Version,
		File:    s.Desc.ParentFile().Path(),
	}
}

// ServicesDocument returns the document of a list of services.
func ServicesDocument(svcs []*schema.Service) ServicesDoc {
	doc := ServicesDoc{Services: []ServiceSummary{}}
	for _, s := range svcs {
		doc.Services = append(doc.Services, summary(s))
	}
	return doc
}

// ServiceDocument returns the document of one service, its subjects with
// the runtime prefix.
func ServiceDocument(s *schema.Service, prefix string) ServiceDoc {
	doc := ServiceDoc{ServiceSummary: summary(s), MethodList: []MethodDoc{}}
	for _, m := range s.Methods {
		subject := m.Subject
		if prefix != "" {
			subject = prefix + "." + subject
		}
		doc.MethodList = append(doc.MethodList, MethodDoc{
			Name:     m.Name,
			Kind:     m.Kind.String(),
			Subject:  subject,
			Request:  string(m.Desc.Input().FullName()),
			Response: string(m.Desc.Output().FullName()),
		})
	}
	return doc
}

// WriteServices writes the text table of a list of services.
func WriteServices(w io.Writer, doc ServicesDoc) error {
	rows := make([][]string, 0, len(doc.Services))
	for _, s := range doc.Services {
		rows = append(rows, []string{s.Service, strconv.Itoa(s.Methods), s.From})
	}
	return cli.WriteTable(w, []string{"SERVICE", "METHODS", "FROM"}, rows)
}

// WriteService writes the text of one service: a line naming it, then
// its methods.
func WriteService(w io.Writer, doc ServiceDoc) error {
	if _, err := fmt.Fprintf(w, "%s (%s, %s)\n", doc.Service, doc.From, doc.File); err != nil {
		return err
	}
	rows := make([][]string, 0, len(doc.MethodList))
	for _, m := range doc.MethodList {
		rows = append(rows, []string{m.Name, m.Kind, m.Subject, m.Request, m.Response})
	}
	return cli.WriteTable(w, []string{"METHOD", "KIND", "SUBJECT", "REQUEST", "RESPONSE"}, rows)
}
