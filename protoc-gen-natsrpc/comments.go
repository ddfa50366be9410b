package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/compiler/protogen"
)

const commentWidth = 97 // leave room for "// "

// wrapComments prints the concatenation of elems as a "//" comment,
// word-wrapped at commentWidth (connect-go's wrapComments). It is used for
// the comments the plugin writes itself; comments carried over from the
// .proto file keep their own line breaks (see leadingComments).
func wrapComments(g *protogen.GeneratedFile, elems ...any) {
	text := &bytes.Buffer{}
	for _, el := range elems {
		switch el := el.(type) {
		case protogen.GoIdent:
			fmt.Fprint(text, g.QualifiedGoIdent(el))
		default:
			fmt.Fprint(text, el)
		}
	}
	words := strings.Fields(text.String())
	text.Reset()
	var pos int
	for _, word := range words {
		numRunes := utf8.RuneCountInString(word)
		if pos > 0 && pos+numRunes+1 > commentWidth {
			g.P("// ", text.String())
			text.Reset()
			pos = 0
		}
		if pos > 0 {
			text.WriteRune(' ')
			pos++
		}
		text.WriteString(word)
		pos += numRunes
	}
	if text.Len() > 0 {
		g.P("// ", text.String())
	}
}

// leadingComments prints a proto element's leading comments, then the
// deprecation notice when the element is deprecated. Lines are kept as
// written, so lists, code blocks and Go doc syntax survive; only a prose
// line longer than commentWidth is word-wrapped like wrapComments.
func leadingComments(g *protogen.GeneratedFile, comments protogen.Comments, isDeprecated bool) {
	text := strings.TrimSpace(string(comments))
	if text != "" {
		// protogen keeps the space after "//"; a line starting with more
		// white space is preformatted.
		for _, line := range strings.Split(strings.TrimRight(string(comments), "\n"), "\n") {
			prose := strings.TrimPrefix(line, " ")
			if utf8.RuneCountInString(prose) > commentWidth && prose != "" && !unicode.IsSpace(rune(prose[0])) {
				wrapComments(g, prose)
				continue
			}
			g.P(strings.TrimRightFunc("//"+line, unicode.IsSpace))
		}
	}
	if isDeprecated {
		if text != "" {
			g.P("//")
		}
		deprecated(g)
	}
}

// docComments prints a generated first sentence, then the proto element's
// leading comments as a second paragraph, then the deprecation notice.
func docComments(g *protogen.GeneratedFile, comments protogen.Comments, isDeprecated bool, sentence ...any) {
	wrapComments(g, sentence...)
	if strings.TrimSpace(string(comments)) != "" || isDeprecated {
		g.P("//")
	}
	leadingComments(g, comments, isDeprecated)
}

func deprecated(g *protogen.GeneratedFile) {
	g.P("// Deprecated: do not use.")
}
