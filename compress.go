package natsrpc

import (
	"fmt"
	"strconv"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
)

// Compression (docs/wire.md §15): S2 (github.com/klauspost/compress/s2,
// block format), which nats.go already requires, so the lean module gains
// no dependency. A body is compressed only when its sender opted in
// ([WithCompression]), it is at least the sender's threshold, compressing
// makes it smaller, and its receiver can decode it: a unary response or a
// server-to-client stream frame only when the request or handshake
// announced Nats-Rpc-Accept-Encoding, an event only when its publisher
// chose to (receivers that cannot decode refuse it). A compressed body
// carries Nats-Rpc-Encoding naming its encoding.
const (
	// headerAcceptEncoding announces, on a request, the encodings the
	// client decodes in the response ("s2").
	headerAcceptEncoding = "Nats-Rpc-Accept-Encoding"
	// headerEncoding names the encoding of a message's body; absent, the
	// body is not compressed.
	headerEncoding = "Nats-Rpc-Encoding"
	encodingS2     = "s2"
	// MaxDecompressedSize bounds the size a compressed body may decode to:
	// a small body that claims to decode to gigabytes is refused before
	// anything is allocated.
	MaxDecompressedSize = 64 << 20
)

// s2Value is the header value shared by every message that sets it;
// nothing mutates it.
var s2Value = []string{encodingS2}

// s2Header marks a compressed stream frame that has no other header;
// publishers copy its entries and never mutate it.
var s2Header = nats.Header{headerEncoding: s2Value}

// WithCompression turns on S2 compression of bodies of at least minBytes
// bytes, where the wire contract allows it (docs/wire.md §15). On a
// handler: unary responses, and the data frames of server-to-client
// streams, for callers that announce they decode S2 (below minBytes, or
// when compressing does not make the body smaller, a body goes as it is;
// small stream frames stay compact). On a client: its unary calls and
// stream handshakes announce that they decode S2, and its event publishes
// compress events (every consumer must then decode S2, as the Go runtime
// does since wire version 0.4; one that cannot refuses them). Compression
// pays for bodies of kilobytes of text (prompts, generated text, lore);
// it costs CPU on both sides, so minBytes should stay well above the
// small messages. minBytes must be at least 1.
func WithCompression(minBytes int) Option {
	return compressionOption(minBytes)
}

type compressionOption int

func (o compressionOption) check() error {
	if o < 1 {
		return fmt.Errorf("compression threshold of %d bytes: must be at least 1", int(o))
	}
	return nil
}

func (o compressionOption) applyToClient(c *clientConfig) {
	if err := o.check(); err != nil {
		c.fail(err)
		return
	}
	c.compressMin = int(o)
}

func (o compressionOption) applyToHandler(c *handlerConfig) {
	if err := o.check(); err != nil {
		c.fail(err)
		return
	}
	c.compressMin = int(o)
}

// compress returns body compressed with S2 when that is worth it: body is
// at least min bytes (min > 0) and the result is smaller. ok is false when
// body should go as it is.
func compress(body []byte, min int) (out []byte, ok bool) {
	if min <= 0 || len(body) < min {
		return body, false
	}
	out = s2.Encode(make([]byte, s2.MaxEncodedLen(len(body))), body)
	if len(out) >= len(body) {
		return body, false
	}
	return out, true
}

// acceptsS2 reports whether a request announced that its sender decodes
// S2 bodies. The header lists encodings separated by commas.
func acceptsS2(h nats.Header) bool {
	for _, v := range h[headerAcceptEncoding] {
		if containsToken(v, encodingS2) {
			return true
		}
	}
	return false
}

// containsToken reports whether the comma-separated list v has tok
// (spaces around items ignored, ASCII case-insensitive).
func containsToken(v, tok string) bool {
	for start := 0; start <= len(v); {
		end := start
		for end < len(v) && v[end] != ',' {
			end++
		}
		item := v[start:end]
		for len(item) > 0 && (item[0] == ' ' || item[0] == '\t') {
			item = item[1:]
		}
		for len(item) > 0 && (item[len(item)-1] == ' ' || item[len(item)-1] == '\t') {
			item = item[:len(item)-1]
		}
		if equalFoldASCII(item, tok) {
			return true
		}
		start = end + 1
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// DecodeBody returns a natsrpc message's body as its sender encoded it
// before compression (docs/wire.md §15): as it is when h has no
// Nats-Rpc-Encoding, decompressed for "s2", and an error for any other
// encoding or a body that does not decode, never allocating more than
// [MaxDecompressedSize]. It is for tools that read natsrpc traffic from
// the side (natsrpc tap); the runtime decodes what it receives itself.
func DecodeBody(h nats.Header, body []byte) ([]byte, error) {
	return decodeBody(h, body)
}

// decodeBody returns the body of a message per its Nats-Rpc-Encoding
// header: as it is without the header, decompressed for "s2", and an error
// naming the problem for any other encoding or a body that does not
// decode. It never allocates more than MaxDecompressedSize.
func decodeBody(h nats.Header, body []byte) ([]byte, error) {
	vs := h[headerEncoding]
	if len(vs) == 0 {
		return body, nil
	}
	if len(vs) > 1 || !equalFoldASCII(vs[0], encodingS2) {
		return nil, fmt.Errorf("unsupported %s %s: this runtime decodes %q only", headerEncoding, strconv.Quote(h.Get(headerEncoding)), encodingS2)
	}
	n, err := s2.DecodedLen(body)
	if err != nil {
		return nil, fmt.Errorf("body marked %s %q does not decode: %w", headerEncoding, encodingS2, err)
	}
	if n > MaxDecompressedSize {
		return nil, fmt.Errorf("body marked %s %q decodes to %d bytes, more than the %d this runtime accepts", headerEncoding, encodingS2, n, MaxDecompressedSize)
	}
	out, err := s2.Decode(make([]byte, n), body)
	if err != nil {
		return nil, fmt.Errorf("body marked %s %q does not decode: %w", headerEncoding, encodingS2, err)
	}
	return out, nil
}
