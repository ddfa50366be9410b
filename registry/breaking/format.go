package breaking

import (
	"bytes"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Formats are the names accepted by [Print], as buf spells them.
var Formats = []string{"text", "json", "msvs", "junit", "github-actions", "gitlab-code-quality"}

// ParseFormat checks a format name; the empty string means "text". Like
// `buf breaking`, it does not accept buf's "gcc" alias.
func ParseFormat(s string) (string, error) {
	f := strings.ToLower(strings.TrimSpace(s))
	switch f {
	case "":
		return "text", nil
	case "text", "json", "msvs", "junit", "github-actions", "gitlab-code-quality":
		return f, nil
	}
	return "", fmt.Errorf("invalid format: %q; use one of %s", s, strings.Join(Formats, ", "))
}

// Print writes violations in one of buf's error formats, byte for byte as
// buf prints them.
func Print(w io.Writer, vs []Violation, format string) error {
	f, err := ParseFormat(format)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch f {
	case "text":
		for _, v := range vs {
			buf.WriteString(v.String())
			buf.WriteByte('\n')
		}
	case "json":
		for _, v := range vs {
			data, err := json.Marshal(jsonViolation{
				Path: v.Path, StartLine: atLeast1(v.StartLine), StartColumn: atLeast1(v.StartColumn),
				EndLine: atLeast1(v.EndLine), EndColumn: atLeast1(v.EndColumn), Type: v.RuleID, Message: v.Message,
			})
			if err != nil {
				return err
			}
			buf.Write(data)
			buf.WriteByte('\n')
		}
	case "msvs":
		for _, v := range vs {
			p := v.Path
			if p == "" {
				p = "<input>"
			}
			fmt.Fprintf(&buf, "%s(%d", p, atLeast1(v.StartLine))
			if c := atLeast1(v.StartColumn); c != 0 {
				fmt.Fprintf(&buf, ",%d", c)
			}
			typ := v.RuleID
			if typ == "" {
				typ = "FAILURE"
			}
			msg := v.Message
			if msg == "" {
				msg = typ
			}
			fmt.Fprintf(&buf, ") : error %s : %s\n", typ, msg)
		}
	case "github-actions":
		for _, v := range vs {
			p := v.Path
			if p == "" {
				p = "<input>"
			}
			buf.WriteString("::error file=" + p)
			if v.StartLine > 0 {
				buf.WriteString(",line=" + strconv.Itoa(v.StartLine))
				if v.StartColumn > 0 {
					buf.WriteString(",col=" + strconv.Itoa(v.StartColumn))
				}
				if v.EndLine > 0 {
					buf.WriteString(",endLine=" + strconv.Itoa(v.EndLine))
					if v.EndColumn > 0 {
						buf.WriteString(",endColumn=" + strconv.Itoa(v.EndColumn))
					}
				}
			}
			buf.WriteString("::" + v.Message + "\n")
		}
	case "junit":
		if err := printJUnit(&buf, vs); err != nil {
			return err
		}
	case "gitlab-code-quality":
		issues := make([]gitlabIssue, 0, len(vs))
		for _, v := range vs {
			issue := gitlabIssue{
				Description: v.Message,
				CheckName:   v.RuleID,
				Location: gitlabLocation{Path: v.Path, Positions: gitlabPositions{
					Begin: gitlabPosition{Line: v.StartLine, Column: v.StartColumn},
					End:   gitlabPosition{Line: v.EndLine, Column: v.EndColumn},
				}},
				Severity: "minor",
			}
			data, err := json.Marshal(issue)
			if err != nil {
				return err
			}
			sum := sha3.SumSHAKE256(data, 64)
			issue.Fingerprint = hex.EncodeToString(sum)
			issues = append(issues, issue)
		}
		if err := json.NewEncoder(&buf).Encode(issues); err != nil {
			return err
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

type jsonViolation struct {
	Path        string `json:"path,omitempty"`
	StartLine   int    `json:"start_line,omitempty"`
	StartColumn int    `json:"start_column,omitempty"`
	EndLine     int    `json:"end_line,omitempty"`
	EndColumn   int    `json:"end_column,omitempty"`
	Type        string `json:"type,omitempty"`
	Message     string `json:"message,omitempty"`
}

type gitlabIssue struct {
	Description string         `json:"description,omitempty"`
	CheckName   string         `json:"check_name,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Location    gitlabLocation `json:"location"`
	Severity    string         `json:"severity,omitempty"`
}

type gitlabLocation struct {
	Path      string          `json:"path,omitempty"`
	Positions gitlabPositions `json:"positions"`
}

type gitlabPositions struct {
	Begin gitlabPosition `json:"begin"`
	End   gitlabPosition `json:"end"`
}

type gitlabPosition struct {
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

func printJUnit(w io.Writer, vs []Violation) error {
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	suites := xml.StartElement{Name: xml.Name{Local: "testsuites"}}
	if err := enc.EncodeToken(suites); err != nil {
		return err
	}
	var order []string
	byPath := map[string][]Violation{}
	for _, v := range vs {
		p := v.Path
		if p == "" {
			p = "<input>"
		}
		if _, ok := byPath[p]; !ok {
			order = append(order, p)
		}
		byPath[p] = append(byPath[p], v)
	}
	for _, p := range order {
		group := byPath[p]
		suite := xml.StartElement{Name: xml.Name{Local: "testsuite"}, Attr: []xml.Attr{
			{Name: xml.Name{Local: "name"}, Value: strings.TrimSuffix(p, ".proto")},
			{Name: xml.Name{Local: "tests"}, Value: strconv.Itoa(len(group))},
			{Name: xml.Name{Local: "failures"}, Value: strconv.Itoa(len(group))},
			{Name: xml.Name{Local: "errors"}, Value: "0"},
		}}
		if err := enc.EncodeToken(suite); err != nil {
			return err
		}
		for _, v := range group {
			name := v.RuleID
			if v.StartColumn != 0 {
				name += fmt.Sprintf("_%d_%d", v.StartLine, v.StartColumn)
			} else if v.StartLine != 0 {
				name += fmt.Sprintf("_%d", v.StartLine)
			}
			tc := xml.StartElement{Name: xml.Name{Local: "testcase"}, Attr: []xml.Attr{{Name: xml.Name{Local: "name"}, Value: name}}}
			failure := xml.StartElement{Name: xml.Name{Local: "failure"}, Attr: []xml.Attr{
				{Name: xml.Name{Local: "message"}, Value: v.String()},
				{Name: xml.Name{Local: "type"}, Value: v.RuleID},
			}}
			for _, tok := range []xml.Token{tc, failure, failure.End(), tc.End()} {
				if err := enc.EncodeToken(tok); err != nil {
					return err
				}
			}
		}
		if err := enc.EncodeToken(suite.End()); err != nil {
			return err
		}
	}
	if err := enc.EncodeToken(suites.End()); err != nil {
		return err
	}
	if err := enc.Flush(); err != nil {
		return err
	}
	_, err := w.Write([]byte("\n"))
	return err
}
