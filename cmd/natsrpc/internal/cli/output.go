package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

const formatFlagName = "format"

// Output formats of --format.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Output is the --format flag of the commands that print results: text
// for people (the default) or json, one JSON document per command with
// the field names the README's CLI reference lists. Every command prints
// its results through it, so that they all spell the flag, validate it and
// encode JSON the same way.
type Output struct {
	format string
}

// Bind registers --format.
func (o *Output) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, formatFlagName, FormatText, "The output format: text, or json (one JSON document)")
}

// Check reports a --format value other than text and json. Commands call
// it before doing anything.
func (o *Output) Check() error {
	switch o.format {
	case FormatText, FormatJSON, "":
		return nil
	}
	return fmt.Errorf("--%s %q: use %s or %s", formatFlagName, o.format, FormatText, FormatJSON)
}

// JSON reports whether --format json was given.
func (o *Output) JSON() bool { return o.format == FormatJSON }

// Print writes doc as one JSON document on one line with --format json,
// and otherwise calls text.
func (o *Output) Print(w io.Writer, doc any, text func(io.Writer) error) error {
	if o.JSON() {
		return WriteJSON(w, doc)
	}
	return text(w)
}

// WriteJSON writes v as one compact JSON document and a newline. Field
// order is the struct's, so the bytes are the same for the same result.
func WriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the JSON output: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteTable writes rows under header in columns separated by two spaces,
// each column as wide as its widest cell, with no trailing whitespace
// (text/tabwriter pads the last non-empty cell of a row when empty cells
// follow it).
func WriteTable(w io.Writer, header []string, rows [][]string) error {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	var b strings.Builder
	for _, r := range append([][]string{header}, rows...) {
		var line strings.Builder
		for i, c := range r {
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
