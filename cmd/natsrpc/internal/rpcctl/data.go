// Package rpcctl is what `natsrpc call`, `template` and `services` do, as
// a library: read request messages as JSON, call any method of any kind
// through natsrpc.DynamicClient, print responses as protojson, build a
// request skeleton, list services and methods.
package rpcctl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// OpenData returns the reader of a -d value: "@-" is standard input,
// "@FILE" a file, anything else the JSON itself. The returned function
// closes a file.
func OpenData(d string, stdin io.Reader) (io.Reader, func(), error) {
	switch {
	case d == "@-":
		if stdin == nil {
			stdin = os.Stdin
		}
		return stdin, func() {}, nil
	case strings.HasPrefix(d, "@"):
		f, err := os.Open(d[1:])
		if err != nil {
			return nil, nil, fmt.Errorf("-d %s: %w", d, err)
		}
		return f, func() { _ = f.Close() }, nil
	}
	return strings.NewReader(d), func() {}, nil
}

// DataError says what is wrong with the request data.
type DataError struct {
	// Message is the number of the message, from 1; 0 when the error is
	// not about one message.
	Message int
	// Err is what is wrong.
	Err error
}

func (e *DataError) Error() string {
	if e.Message == 0 {
		return "request data: " + e.Err.Error()
	}
	return fmt.Sprintf("request message %d: %s", e.Message, e.Err)
}

func (e *DataError) Unwrap() error { return e.Err }

// maxMessageBytes bounds one JSON message: NATS payloads are at most 64
// MiB whatever the server, and JSON is larger than the protobuf it
// encodes, so a larger message cannot be sent anyway.
const maxMessageBytes = 256 << 20

// Messages reads JSON objects from r, one per request message: separated
// by whitespace or not at all (`{"a":1}{"a":2}`, or one per line). It
// calls fn with each as soon as it is complete, so that messages typed on
// a terminal are sent as they are typed. Anything but objects (an array,
// a number, garbage between objects) is a [*DataError] naming the message
// and the byte offset.
func Messages(r io.Reader, fn func(n int, msg json.RawMessage) error) error {
	dec := json.NewDecoder(bufio.NewReader(io.LimitReader(r, maxMessageBytes*4)))
	dec.UseNumber()
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return &DataError{Message: n, Err: fmt.Errorf("not JSON at byte %d: %v; give one JSON object per message, e.g. -d '{\"questId\": \"q-1\"}'", se.Offset, se)}
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return &DataError{Message: n, Err: errors.New("the JSON ends in the middle of a value")}
			}
			return &DataError{Message: n, Err: err}
		}
		if len(raw) > maxMessageBytes {
			return &DataError{Message: n, Err: fmt.Errorf("%d bytes of JSON; a NATS message cannot carry it", len(raw))}
		}
		if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
			return &DataError{Message: n, Err: fmt.Errorf("%s is not a JSON object; a request message is an object, e.g. {\"questId\": \"q-1\"} (for client and bidi streams, one object per message)", abbreviate(trimmed))}
		}
		if err := fn(n, raw); err != nil {
			return err
		}
	}
}

// abbreviate returns b, cut to 40 bytes.
func abbreviate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
