package natsrpc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"
)

// Header names and values of the stream protocol (docs/wire.md, "Streams").
// A stream is a handshake request on the method's subject followed by
// frames in both directions: server to client on the request's reply
// subject (the client's inbox), client to server on the control inbox the
// server names in its open frame.
const (
	// headerStream marks a stream handshake and carries the protocol
	// version.
	headerStream = "Nats-Rpc-Stream"
	// headerFrame is the frame type of a control frame; data frames have
	// none.
	headerFrame = "Nats-Rpc-Frame"
	// headerSeq numbers data frames from 1 in each direction; control
	// frames repeat the number of the last data frame sent before them,
	// so that a lost message is noticed at the next frame of any kind.
	headerSeq = "Nats-Rpc-Seq"
	// headerControl carries the server's control inbox in the open frame.
	headerControl = "Nats-Rpc-Control"
	// headerHeartbeat is the interval, in milliseconds, at which the sender
	// promises a frame while it is otherwise idle.
	headerHeartbeat = "Nats-Rpc-Heartbeat"
	// headerCredit is the highest data frame number the receiver of the
	// frame may send (absolute, so a lost grant is repaired by the next).
	headerCredit = "Nats-Rpc-Credit"
	// headerCreditBytes is the payload byte count, over the whole
	// direction, below which the receiver of the frame may start a data
	// frame.
	headerCreditBytes = "Nats-Rpc-Credit-Bytes"

	streamProtocolVersion = "1"

	// maxCountDigits bounds sequence numbers and credits: 19 digits fit an
	// int64, far past any stream.
	maxCountDigits = 19
	// maxControlSubject bounds the control inbox a server may name.
	maxControlSubject = 512
	// maxPeerHeartbeat caps the heartbeat interval a peer may declare when
	// it sets our liveness timeout, so that a peer cannot make us wait for
	// hours before noticing it is gone.
	maxPeerHeartbeat = time.Minute
	// frameOverhead is an upper bound for the frame headers natsrpc adds to
	// a data frame ("NATS/1.0", Nats-Rpc-Seq), for the max_payload check.
	frameOverhead = 64
	// livenessFactor: a peer is gone after this many of its heartbeat
	// intervals without a frame (or the configured liveness, if longer).
	livenessFactor = 3
)

// Stream defaults; [WithStreamWindow] and [WithHeartbeat] change them.
const (
	// DefaultStreamWindow is how many data messages a receiver lets its
	// peer send ahead of what it has consumed.
	DefaultStreamWindow = 1024
	// DefaultStreamWindowBytes is how many payload bytes a receiver lets its
	// peer send ahead of what it has consumed (a message may cross it: the
	// sender needs only a byte of credit left to start one).
	DefaultStreamWindowBytes = 8 << 20
	// DefaultHeartbeat is how often each side of a stream sends a heartbeat
	// while it has nothing else to send.
	DefaultHeartbeat = time.Second
	// DefaultLiveness is how long each side waits without hearing from the
	// other before it gives the stream up (at least three of the peer's
	// heartbeat intervals).
	DefaultLiveness = 5 * time.Second
)

// frameKind is the type of a stream frame.
type frameKind uint8

const (
	frameData frameKind = iota
	frameOpen
	frameHeartbeat
	frameCredit
	frameEnd
	frameCancel
)

var frameNames = [...]string{
	frameData:      "data",
	frameOpen:      "open",
	frameHeartbeat: "heartbeat",
	frameCredit:    "credit",
	frameEnd:       "end",
	frameCancel:    "cancel",
}

func (k frameKind) String() string {
	if int(k) < len(frameNames) {
		return frameNames[k]
	}
	return "frame(" + strconv.Itoa(int(k)) + ")"
}

// frameValues holds the Nats-Rpc-Frame values, shared by every frame sent.
var frameValues = func() [len(frameNames)][]string {
	var v [len(frameNames)][]string
	for i, n := range frameNames {
		v[i] = []string{n}
	}
	return v
}()

// frame is what the protocol headers of one stream frame say.
type frame struct {
	kind frameKind
	seq  uint64
	// hasCredit is set when the frame grants credit (both credit headers).
	hasCredit   bool
	credit      uint64
	creditBytes uint64
	// control and heartbeat are set on open frames.
	control   string
	heartbeat time.Duration
}

// readFrame reads the frame m is. A message without headers is a compact
// data frame: its payload is the sequence number (a minimal uvarint, from
// 1) followed by the message, which readFrame leaves in m.Data. Any other
// frame says what it is in its headers (see parseFrame).
func readFrame(m *nats.Msg) (frame, error) {
	if len(m.Header) > 0 {
		return parseFrame(m.Header)
	}
	seq, n := binary.Uvarint(m.Data)
	switch {
	case n <= 0:
		return frame{}, errors.New("a frame without headers (a compact data frame) must start with its sequence number as a uvarint")
	case seq == 0:
		return frame{}, errors.New("compact data frame numbered 0: data frames are numbered from 1")
	case n != uvarintLen(seq):
		return frame{}, fmt.Errorf("compact data frame numbered %d in %d bytes: the sequence number must be a minimal uvarint", seq, n)
	}
	m.Data = m.Data[n:]
	return frame{kind: frameData, seq: seq}, nil
}

// uvarintLen is the length of v's minimal uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// parseFrame reads the protocol headers of a stream frame. Every frame
// carries Nats-Rpc-Seq; data frames (no Nats-Rpc-Frame) are numbered from
// 1; credit comes as both credit headers or neither; open frames name the
// control inbox and the server's heartbeat interval.
func parseFrame(h nats.Header) (frame, error) {
	var f frame
	switch v := h.Get(headerFrame); v {
	case "":
		f.kind = frameData
	case "open":
		f.kind = frameOpen
	case "heartbeat":
		f.kind = frameHeartbeat
	case "credit":
		f.kind = frameCredit
	case "end":
		f.kind = frameEnd
	case "cancel":
		f.kind = frameCancel
	default:
		return f, fmt.Errorf("unknown %s %q", headerFrame, v)
	}
	v := h.Get(headerSeq)
	seq, ok := parseCount(v)
	if !ok {
		return f, fmt.Errorf("%s %q: want 1 to %d ASCII digits", headerSeq, v, maxCountDigits)
	}
	if f.kind == frameData && seq == 0 {
		return f, fmt.Errorf("data frame with %s 0: data frames are numbered from 1", headerSeq)
	}
	f.seq = seq
	credit, err := parseCredit(h)
	if err != nil {
		return f, err
	}
	if credit != nil {
		f.hasCredit, f.credit, f.creditBytes = true, credit[0], credit[1]
	}
	if f.kind == frameOpen {
		f.control = h.Get(headerControl)
		if !validInbox(f.control) {
			return f, fmt.Errorf("open frame's %s %q is not a literal NATS subject", headerControl, f.control)
		}
		if f.heartbeat, err = parseHeartbeat(h); err != nil {
			return f, err
		}
	}
	return f, nil
}

// parseCredit reads the two credit headers: nil when neither is present.
func parseCredit(h nats.Header) (*[2]uint64, error) {
	c, cb := h.Get(headerCredit), h.Get(headerCreditBytes)
	if c == "" && cb == "" {
		return nil, nil
	}
	n, ok := parseCount(c)
	if !ok {
		return nil, fmt.Errorf("%s %q: want 1 to %d ASCII digits, with %s", headerCredit, c, maxCountDigits, headerCreditBytes)
	}
	b, ok := parseCount(cb)
	if !ok {
		return nil, fmt.Errorf("%s %q: want 1 to %d ASCII digits, with %s", headerCreditBytes, cb, maxCountDigits, headerCredit)
	}
	return &[2]uint64{n, b}, nil
}

// parseHeartbeat reads a required Nats-Rpc-Heartbeat: a positive number of
// milliseconds, like Nats-Rpc-Timeout.
func parseHeartbeat(h nats.Header) (time.Duration, error) {
	v := h.Get(headerHeartbeat)
	d, ok := parseTimeout(v)
	if !ok || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive number of milliseconds (1 to %d digits)", headerHeartbeat, v, maxTimeoutDigits)
	}
	return d, nil
}

// streamRequest is what the protocol headers of a stream handshake say.
type streamRequest struct {
	credit      uint64
	creditBytes uint64
	heartbeat   time.Duration
}

// parseStreamRequest reads the protocol headers of a stream handshake:
// the protocol version, the client's initial credit and its heartbeat
// interval. Nats-Rpc-Timeout and Content-Type are read as for unary calls.
func parseStreamRequest(h nats.Header) (streamRequest, error) {
	var r streamRequest
	if v := h.Get(headerStream); v != streamProtocolVersion {
		if v == "" {
			return r, fmt.Errorf("the method streams: open it with a natsrpc streaming client (the request lacks the %s header)", headerStream)
		}
		return r, fmt.Errorf("unsupported stream protocol version %s %q; this service speaks %q", headerStream, v, streamProtocolVersion)
	}
	credit, err := parseCredit(h)
	if err != nil {
		return r, err
	}
	if credit == nil {
		return r, fmt.Errorf("stream request lacks %s and %s", headerCredit, headerCreditBytes)
	}
	if credit[0] == 0 || credit[1] == 0 {
		return r, fmt.Errorf("stream request grants no credit (%s %d, %s %d): the server could never send", headerCredit, credit[0], headerCreditBytes, credit[1])
	}
	r.credit, r.creditBytes = credit[0], credit[1]
	if r.heartbeat, err = parseHeartbeat(h); err != nil {
		return r, err
	}
	return r, nil
}

// parseCount reads 1 to 19 ASCII digits.
func parseCount(v string) (uint64, bool) {
	if len(v) == 0 || len(v) > maxCountDigits {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func formatCount(n uint64) []string {
	return []string{strconv.FormatUint(n, 10)}
}

// validInbox reports whether s is a subject a peer may be told to publish
// to: literal tokens, no whitespace, bounded length. "*" and ">" are refused
// anywhere in a token, not only as whole-token wildcards: nats-server treats
// "a*" as a literal, but other clients and tools do not agree on that, and an
// inbox never needs them.
func validInbox(s string) bool {
	if s == "" || len(s) > maxControlSubject {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c == 0x7f || c == '*' || c == '>' {
				return false
			}
		}
	}
	return true
}

// livenessTimeout is how long to wait without a frame from a peer that
// declared the heartbeat interval peer.
func livenessTimeout(own, peer time.Duration) time.Duration {
	return max(own, livenessFactor*min(peer, maxPeerHeartbeat))
}

// tickInterval is how often a stream's keepalive wakes up: often enough
// that heartbeats go out within half an interval of being due.
func tickInterval(heartbeat time.Duration) time.Duration {
	return max(heartbeat/2, 5*time.Millisecond)
}

// streamSettings are one side's flow-control and liveness settings.
type streamSettings struct {
	window      uint64
	windowBytes uint64
	heartbeat   time.Duration
	liveness    time.Duration
}

func defaultStreamSettings() streamSettings {
	return streamSettings{
		window:      DefaultStreamWindow,
		windowBytes: DefaultStreamWindowBytes,
		heartbeat:   DefaultHeartbeat,
		liveness:    DefaultLiveness,
	}
}

// outbound is one direction of a stream as its sender sees it: the frames
// it publishes to the peer's subject, data numbered and held to the peer's
// credit. Frames are published under mu, so that a control frame's
// Nats-Rpc-Seq never runs ahead of the data frames on the wire.
type outbound struct {
	nc      *nats.Conn
	payload *payloadLimit

	mu          sync.Mutex
	subject     string
	seq         uint64 // data frames sent
	bytes       uint64 // data payload bytes sent
	creditSeq   uint64
	creditBytes uint64
	dataClosed  bool   // the end frame was sent: no more data
	err         *Error // set once the stream failed: nothing more is sent
	hdr         nats.Header
	msg         nats.Msg

	failed chan struct{} // closed with err
	credit chan struct{} // signaled when credit grows
	sent   activity      // frames published
	waits  *atomic.Int64 // counts sends that waited for credit; may be nil
	// seqBuf holds the digits of the Nats-Rpc-Seq value being sent, and
	// seqVal the header value over them: nats.go encodes the header before
	// PublishMsg returns, so neither needs a fresh allocation per frame.
	seqBuf [maxCountDigits + 1]byte
	seqVal [1]string
	// compact holds the payload of the compact data frame being sent: its
	// sequence number and the message (see publishLocked).
	compact []byte
}

func newOutbound(nc *nats.Conn, payload *payloadLimit, subject string) *outbound {
	o := &outbound{
		nc:      nc,
		payload: payload,
		subject: subject,
		hdr:     make(nats.Header, 4),
		failed:  make(chan struct{}),
		credit:  make(chan struct{}, 1),
	}
	o.sent.start(time.Now())
	return o
}

// grant raises the peer's credit; credit never shrinks.
func (o *outbound) grant(seq, bytes uint64) {
	o.mu.Lock()
	grew := false
	if seq > o.creditSeq {
		o.creditSeq, grew = seq, true
	}
	if bytes > o.creditBytes {
		o.creditBytes, grew = bytes, true
	}
	o.mu.Unlock()
	if grew {
		select {
		case o.credit <- struct{}{}:
		default:
		}
	}
}

// fail stops the direction: every send after it returns e.
func (o *outbound) fail(e *Error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = e
		close(o.failed)
	}
}

// sendData publishes one data frame once the peer's credit allows it,
// waiting for credit until ctx ends or the stream fails. extra are headers
// for this frame only (the response headers on the first one).
func (o *outbound) sendData(ctx context.Context, extra nats.Header, data []byte) *Error {
	size := int64(len(data) + headerSize(extra) + frameOverhead)
	if o.payload.exceeded(size) > 0 {
		return NewError(CodeResourceExhausted, fmt.Errorf(
			"stream message of %d bytes (headers included) is larger than the NATS server's max_payload of %d bytes", size, o.payload.limit.Load()))
	}
	waited := false
	for {
		o.mu.Lock()
		if o.err != nil {
			e := o.err
			o.mu.Unlock()
			return e
		}
		if o.dataClosed {
			o.mu.Unlock()
			return errorf(CodeFailedPrecondition, "send on a stream whose sending side is closed")
		}
		if o.seq < o.creditSeq && o.bytes < o.creditBytes {
			break
		}
		o.mu.Unlock()
		if !waited {
			waited = true
			if o.waits != nil {
				o.waits.Add(1)
			}
		}
		select {
		case <-o.credit:
		case <-o.failed:
		case <-ctx.Done():
			return contextError(context.Cause(ctx), o.subject)
		}
	}
	o.seq++
	o.bytes += uint64(len(data))
	err := o.publishLocked(frameData, extra, data)
	o.mu.Unlock()
	if err != nil {
		e := NewError(CodeUnavailable, fmt.Errorf("send stream message: %w", err))
		o.fail(e)
		return e
	}
	return nil
}

// sendControl publishes a control frame unless the stream failed. An end
// frame closes the direction to data.
func (o *outbound) sendControl(kind frameKind, extra nats.Header, data []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if kind == frameEnd {
		if o.dataClosed {
			return nil
		}
		o.dataClosed = true
	}
	return o.publishLocked(kind, extra, data)
}

// publishLocked publishes a frame; o.mu is held. The header map and the
// message are reused: nats.go encodes them before PublishMsg returns.
func (o *outbound) publishLocked(kind frameKind, extra nats.Header, data []byte) error {
	if kind == frameData && len(extra) == 0 {
		// A compact data frame: no headers, the sequence number as a
		// uvarint before the message. Headers cost more than anything
		// else per small message (nats.go builds and parses a map for
		// each), and most data frames have nothing else to say.
		o.compact = binary.AppendUvarint(o.compact[:0], o.seq)
		o.compact = append(o.compact, data...)
		err := o.nc.Publish(o.subject, o.compact) // copies the payload
		if cap(o.compact) > maxPooledBuffer {
			o.compact = nil
		}
		o.sent.bump()
		return err
	}
	h := o.hdr
	clear(h)
	for k, vs := range extra {
		h[k] = vs
	}
	if kind != frameData {
		h[headerFrame] = frameValues[kind]
	}
	digits := strconv.AppendUint(o.seqBuf[:0], o.seq, 10)
	o.seqVal[0] = unsafe.String(unsafe.SliceData(digits), len(digits))
	h[headerSeq] = o.seqVal[:]
	o.msg = nats.Msg{Subject: o.subject, Header: h, Data: data}
	err := o.nc.PublishMsg(&o.msg)
	o.msg = nats.Msg{}
	o.seqVal[0] = ""
	o.sent.bump()
	return err
}

// activity tells a stream's keepalive when frames last went out or came
// in, without reading the clock for every frame: the hot path only bumps
// a counter, and the keepalive, which wakes up every tick anyway, notes
// when it last saw the counter move. Its answers are as precise as the
// tick.
type activity struct {
	n    atomic.Uint64
	seen uint64    // the keepalive's: n when last sampled
	at   time.Time // the keepalive's: when n last moved
}

func (a *activity) start(now time.Time) { a.at = now }

func (a *activity) bump() { a.n.Add(1) }

// since returns how long the counter has not moved, as of now. Only the
// keepalive calls it.
func (a *activity) since(now time.Time) time.Duration {
	if n := a.n.Load(); n != a.seen {
		a.seen, a.at = n, now
	}
	return now.Sub(a.at)
}

// inbound is one direction of a stream as its receiver sees it: data
// frames queue in order until the application consumes them, and credit is
// granted as they are consumed. The queue never holds more than the window
// the receiver granted: a peer that sends beyond it breaks the protocol.
type inbound struct {
	settings streamSettings

	mu            sync.Mutex
	queue         []*nats.Msg
	head          int
	received      uint64
	receivedBytes uint64
	consumed      uint64
	consumedBytes uint64
	grantSeq      uint64
	grantBytes    uint64
	header        nats.Header // the headers of the first data or end frame
	ended         bool        // the peer's end frame arrived
	endErr        *Error      // its error; nil for a clean end
	trailer       nats.Header
	err           *Error // a local failure
	errNow        bool   // report err before the queued messages
	notify        chan struct{}
}

func newInbound(s streamSettings) *inbound {
	return &inbound{
		settings:   s,
		grantSeq:   s.window,
		grantBytes: s.windowBytes,
		notify:     make(chan struct{}, 1),
	}
}

func (in *inbound) signal() {
	select {
	case in.notify <- struct{}{}:
	default:
	}
}

// credit returns the current absolute grant, for control frames.
func (in *inbound) credit() nats.Header {
	in.mu.Lock()
	defer in.mu.Unlock()
	return creditHeader(in.grantSeq, in.grantBytes)
}

func creditHeader(seq, bytes uint64) nats.Header {
	return nats.Header{headerCredit: formatCount(seq), headerCreditBytes: formatCount(bytes)}
}

// onData queues data frame m numbered seq. It returns an error when the
// frame breaks the protocol: a gap, a repeat or reordering (data loss on
// the way), or more than the granted credit.
func (in *inbound) onData(m *nats.Msg, seq uint64, keepHeader func(nats.Header) nats.Header) *Error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ended || in.err != nil {
		return nil
	}
	if e := in.checkSeqLocked(seq, true); e != nil {
		return e
	}
	if seq > in.grantSeq || in.receivedBytes >= in.grantBytes {
		return errorf(CodeInternal, fmt.Sprintf("peer sent message %d beyond its credit (%d messages, %d bytes): protocol violation", seq, in.grantSeq, in.grantBytes))
	}
	in.received = seq
	in.receivedBytes += uint64(len(m.Data))
	if in.header == nil {
		in.header = keepHeader(m.Header)
	}
	in.queue = append(in.queue, m)
	in.signal()
	return nil
}

// checkSeq verifies a control frame's Nats-Rpc-Seq: it must name the last
// data frame received.
func (in *inbound) checkSeq(seq uint64) *Error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ended || in.err != nil {
		return nil
	}
	return in.checkSeqLocked(seq, false)
}

func (in *inbound) checkSeqLocked(seq uint64, data bool) *Error {
	want := in.received
	if data {
		want++
	}
	switch {
	case seq == want:
		return nil
	case seq > want && data:
		return errorf(CodeDataLoss, fmt.Sprintf("stream lost messages: received message %d, expected %d", seq, want))
	case seq > want:
		return errorf(CodeDataLoss, fmt.Sprintf("stream lost messages: the peer has sent %d, %d arrived", seq, in.received))
	default:
		return errorf(CodeDataLoss, fmt.Sprintf("stream messages repeated or reordered: received number %d after %d", seq, in.received))
	}
}

// onEnd records the peer's end frame m, which says seq data frames were
// sent; e is its error (nil for a clean end).
func (in *inbound) onEnd(m *nats.Msg, seq uint64, e *Error, keep func(nats.Header) nats.Header) *Error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ended || in.err != nil {
		return nil
	}
	if seq != in.received {
		if seq > in.received {
			return errorf(CodeDataLoss, fmt.Sprintf("stream lost messages: the peer ended after %d messages, %d arrived", seq, in.received))
		}
		return errorf(CodeDataLoss, fmt.Sprintf("stream ended after %d messages, but %d arrived", seq, in.received))
	}
	in.ended, in.endErr = true, e
	in.trailer = keep(m.Header)
	if in.header == nil {
		in.header = in.trailer
	}
	in.signal()
	return nil
}

// fail ends the direction locally with e; now reports it before any
// queued messages (the caller gave up), otherwise after them (they arrived
// in order before the failure).
func (in *inbound) fail(e *Error, now bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err != nil || in.ended && !now {
		return
	}
	in.err, in.errNow = e, now
	in.signal()
}

// errEndOfStream is the clean end of a direction, returned as io.EOF by
// the public API.
var errEndOfStream = errors.New("end of stream")

// next returns the next data frame, waiting until one arrives, the peer
// ends the direction (errEndOfStream or its error), the direction fails, or
// ctx ends. grant is non-nil when consuming the frame earned the peer new
// credit worth a frame of its own.
//
// frames, when not nil, is the subscription's channel of undelivered
// frames (a server-stream client reads its inbox itself, see
// clientConn.frames): while the queue is empty, next takes the next frame
// from it and hands it to onFrame, on the caller's goroutine, so that a
// message goes from nats.go's reader to the application with one
// goroutine hand-off, as in a plain subscription callback.
func (in *inbound) next(ctx context.Context, frames <-chan *nats.Msg, onFrame func(*nats.Msg)) (m *nats.Msg, grant nats.Header, err error) {
	for {
		// Frames that arrived are handled before anything is consumed, as
		// a callback would have handled them on arrival: a frame beyond the
		// credit is a violation even if consuming would have allowed it.
	drain:
		for frames != nil {
			select {
			case f := <-frames:
				onFrame(f)
			default:
				break drain
			}
		}
		in.mu.Lock()
		if in.err != nil && in.errNow {
			e := in.err
			in.mu.Unlock()
			return nil, nil, e
		}
		if in.head < len(in.queue) {
			m = in.queue[in.head]
			in.queue[in.head] = nil
			in.head++
			if in.head == len(in.queue) {
				in.queue, in.head = in.queue[:0], 0
			}
			in.consumed++
			in.consumedBytes += uint64(len(m.Data))
			if !in.ended && in.err == nil {
				s := in.settings
				wantSeq, wantBytes := in.consumed+s.window, in.consumedBytes+s.windowBytes
				if wantSeq-in.grantSeq >= max(s.window/2, 1) || wantBytes-min(wantBytes, in.grantBytes) >= max(s.windowBytes/2, 1) {
					in.grantSeq, in.grantBytes = max(in.grantSeq, wantSeq), max(in.grantBytes, wantBytes)
					grant = creditHeader(in.grantSeq, in.grantBytes)
				}
			}
			in.mu.Unlock()
			return m, grant, nil
		}
		if in.err != nil {
			e := in.err
			in.mu.Unlock()
			return nil, nil, e
		}
		if in.ended {
			e := in.endErr
			in.mu.Unlock()
			if e != nil {
				return nil, nil, e
			}
			return nil, nil, errEndOfStream
		}
		in.mu.Unlock()
		select {
		case f := <-frames:
			onFrame(f)
		case <-in.notify:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// headers returns the first frame's headers and the end frame's.
func (in *inbound) headers() (header, trailer nats.Header) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.header, in.trailer
}

// publicHeader copies the headers of a received frame that are not the
// runtime's: what the application set. It never returns nil.
func publicHeader(h nats.Header) nats.Header {
	out := make(nats.Header, len(h))
	for k, vs := range h {
		if !isReservedHeader(k) {
			out[k] = vs
		}
	}
	return out
}

// endFrame builds the headers and body of an end frame: Nats-Rpc-Code ok,
// or the error headers and details of e, plus the handler's response
// headers (which travel here when no data frame carried them) and trailer,
// reserved ones dropped; the trailer wins over the headers, the runtime's
// own headers over both.
func endFrame(e *Error, c codec, header, trailer nats.Header) (nats.Header, []byte) {
	h := make(nats.Header, len(header)+len(trailer)+4)
	for _, src := range []nats.Header{header, trailer} {
		for k, vs := range src {
			if !isReservedHeader(k) && validHeaderKey(k) {
				h[k] = vs
			}
		}
	}
	if e == nil {
		h[headerCode] = []string{"ok"}
		return h, nil
	}
	eh, body := encodeError(e, c)
	for k, vs := range eh {
		h[k] = vs
	}
	return h, body
}
