// Package spec derives how a protobuf service travels over NATS: each
// method's effective subject, kind and queue group, the micro service name
// and version, timeouts and event delivery, from the descriptors and the
// natsrpc.v1 custom options.
//
// It is the one place these rules live. The plugin uses it to generate
// subject constants, the runtime to register endpoints, the breaking checker
// to compare two schema versions and the registry to resolve subjects, so
// they can never disagree.
package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	natsrpcv1 "github.com/natsrpc/natsrpc/proto/natsrpc/v1"
)

// DefaultQueueGroup is the queue group services join unless their options
// say otherwise. It is the nats.go micro framework's default, so natsrpc
// instances and plain micro instances of one service share the load.
const DefaultQueueGroup = "q"

// DefaultVersion is the micro service version when the service option sets
// none.
const DefaultVersion = "0.0.0"

// Kind is how a method travels over NATS.
type Kind int

const (
	// KindUnary is one request answered by one reply.
	KindUnary Kind = iota + 1
	// KindServerStream is one request answered by a stream of replies.
	KindServerStream
	// KindClientStream is a stream of requests answered by one reply.
	KindClientStream
	// KindBidiStream is a stream of requests and a stream of replies.
	KindBidiStream
	// KindEvent is a one-way message published without a reply.
	KindEvent
)

// String returns the kind's lower-case name, as used in endpoint metadata.
func (k Kind) String() string {
	switch k {
	case KindUnary:
		return "unary"
	case KindServerStream:
		return "server_stream"
	case KindClientStream:
		return "client_stream"
	case KindBidiStream:
		return "bidi_stream"
	case KindEvent:
		return "event"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Delivery says which instances receive an event.
type Delivery int

const (
	// DeliveryQueue delivers each event to one instance (the queue group).
	DeliveryQueue Delivery = iota + 1
	// DeliveryBroadcast delivers each event to every instance.
	DeliveryBroadcast
)

// String returns "queue" or "broadcast".
func (d Delivery) String() string {
	switch d {
	case DeliveryQueue:
		return "queue"
	case DeliveryBroadcast:
		return "broadcast"
	default:
		return fmt.Sprintf("delivery(%d)", int(d))
	}
}

// Service is the NATS mapping of one protobuf service.
type Service struct {
	// Desc is the service descriptor.
	Desc protoreflect.ServiceDescriptor
	// FullName is the proto full name, e.g. "gaming.quest_system.v1.QuestSystemService".
	FullName string
	// MicroName is the nats.go micro service name: the full name with dots
	// replaced by underscores.
	MicroName string
	// Version is the SemVer version reported to micro.
	Version string
	// SubjectBase is the subject shared by all methods, before the method
	// token: "[prefix.]<package>.<Service>" or the service's subject option.
	SubjectBase string
	// QueueGroup is the queue group instances join; empty when the service
	// opts out of queue groups.
	QueueGroup string
	// DefaultTimeout is the client timeout from the service option; zero
	// when unset.
	DefaultTimeout time.Duration
	// Skip is true when the service is left out of generated code.
	Skip bool
	// Deprecated mirrors the service's deprecated option.
	Deprecated bool
	// Methods are the service's methods in declaration order, skipped ones
	// included (with Skip set).
	Methods []*Method
}

// Method is the NATS mapping of one protobuf method.
type Method struct {
	// Desc is the method descriptor.
	Desc protoreflect.MethodDescriptor
	// Service is the service the method belongs to.
	Service *Service
	// Name is the proto method name, also the micro endpoint name.
	Name string
	// Procedure is "/<service full name>/<method>", as gRPC and Connect
	// name it.
	Procedure string
	// Subject is the effective NATS subject, without any runtime prefix.
	Subject string
	// Kind is how the method travels.
	Kind Kind
	// QueueGroup is the queue group the method's subscription joins; empty
	// for none (broadcast events, or services without a queue group).
	QueueGroup string
	// Timeout is the client timeout from the method option, else the
	// service's default; zero when neither sets one.
	Timeout time.Duration
	// Idempotency is the method's idempotency_level.
	Idempotency descriptorpb.MethodOptions_IdempotencyLevel
	// Delivery is set for events only.
	Delivery Delivery
	// Durable holds the durable-event settings; nil unless the method is a
	// durable event.
	Durable *natsrpcv1.DurableEvent
	// Skip is true when the method is left out of generated code.
	Skip bool
	// Deprecated mirrors the method's deprecated option.
	Deprecated bool
}

// Error reports an invalid natsrpc option or an unsupported method shape.
// It names the file, the element and the option so that the user can find
// and fix it.
type Error struct {
	// File is the .proto file path.
	File string
	// Element is the full name of the service or method.
	Element string
	// Option names the offending option, e.g. "(natsrpc.v1.method).subject";
	// empty when the problem is not an option.
	Option string
	// Problem says what is wrong and how to fix it.
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	b.WriteString(": ")
	b.WriteString(e.Element)
	if e.Option != "" {
		b.WriteString(": option ")
		b.WriteString(e.Option)
	}
	b.WriteString(": ")
	b.WriteString(e.Problem)
	return b.String()
}

var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// ForService derives the NATS mapping of sd. It returns an *Error when an
// option is invalid or a method has a shape natsrpc cannot carry.
func ForService(sd protoreflect.ServiceDescriptor) (*Service, error) {
	file := sd.ParentFile()
	fileOpts, err := FileOptions(file)
	if err != nil {
		return nil, &Error{File: file.Path(), Element: string(sd.FullName()), Option: "(natsrpc.v1.file)", Problem: err.Error()}
	}
	svcOpts, err := ServiceOptions(sd)
	if err != nil {
		return nil, &Error{File: file.Path(), Element: string(sd.FullName()), Option: "(natsrpc.v1.service)", Problem: err.Error()}
	}
	s := &Service{
		Desc:       sd,
		FullName:   string(sd.FullName()),
		MicroName:  strings.ReplaceAll(string(sd.FullName()), ".", "_"),
		Version:    DefaultVersion,
		QueueGroup: DefaultQueueGroup,
		Skip:       svcOpts.GetSkip(),
	}
	if o, ok := sd.Options().(*descriptorpb.ServiceOptions); ok {
		s.Deprecated = o.GetDeprecated()
	}
	errAt := func(option, format string, args ...any) error {
		return &Error{File: file.Path(), Element: s.FullName, Option: option, Problem: fmt.Sprintf(format, args...)}
	}
	prefix := fileOpts.GetSubjectPrefix()
	prefixOpt := "(natsrpc.v1.file).subject_prefix"
	if p := svcOpts.GetSubjectPrefix(); p != "" {
		prefix, prefixOpt = p, "(natsrpc.v1.service).subject_prefix"
	}
	if prefix != "" {
		if err := ValidateSubject(prefix); err != nil {
			return nil, errAt(prefixOpt, "%q: %v", prefix, err)
		}
	}
	base := string(sd.FullName())
	if sub := svcOpts.GetSubject(); sub != "" {
		if err := ValidateSubject(sub); err != nil {
			return nil, errAt("(natsrpc.v1.service).subject", "%q: %v", sub, err)
		}
		base = sub
	} else if err := ValidateSubject(base); err != nil {
		return nil, errAt("", "the service's full name %q cannot be a NATS subject: %v; set (natsrpc.v1.service).subject", base, err)
	}
	if prefix != "" {
		base = prefix + "." + base
	}
	s.SubjectBase = base
	if v := svcOpts.GetVersion(); v != "" {
		if !semverRE.MatchString(v) {
			return nil, errAt("(natsrpc.v1.service).version", "%q is not a SemVer version such as \"1.2.3\"", v)
		}
		s.Version = v
	}
	if q := svcOpts.GetQueueGroup(); q != "" {
		if svcOpts.GetNoQueueGroup() {
			return nil, errAt("(natsrpc.v1.service).queue_group", "%q is set together with no_queue_group; set one of them", q)
		}
		if err := ValidateToken(q); err != nil {
			return nil, errAt("(natsrpc.v1.service).queue_group", "%q: %v", q, err)
		}
		s.QueueGroup = q
	}
	if svcOpts.GetNoQueueGroup() {
		s.QueueGroup = ""
	}
	if d := svcOpts.GetDefaultTimeout(); d != nil {
		t, err := positiveDuration(d.GetSeconds(), d.GetNanos())
		if err != nil {
			return nil, errAt("(natsrpc.v1.service).default_timeout", "%v", err)
		}
		s.DefaultTimeout = t
	}
	seen := map[string]string{}
	methods := sd.Methods()
	for i := 0; i < methods.Len(); i++ {
		m, err := forMethod(s, methods.Get(i))
		if err != nil {
			return nil, err
		}
		if !m.Skip {
			if other, dup := seen[m.Subject]; dup {
				return nil, &Error{File: file.Path(), Element: string(m.Desc.FullName()), Option: "(natsrpc.v1.method).subject",
					Problem: fmt.Sprintf("subject %q is also used by method %q; give one of them another subject", m.Subject, other)}
			}
			seen[m.Subject] = m.Name
		}
		s.Methods = append(s.Methods, m)
	}
	return s, nil
}

func forMethod(s *Service, md protoreflect.MethodDescriptor) (*Method, error) {
	opts, err := MethodOptions(md)
	if err != nil {
		return nil, &Error{File: md.ParentFile().Path(), Element: string(md.FullName()), Option: "(natsrpc.v1.method)", Problem: err.Error()}
	}
	m := &Method{
		Desc:       md,
		Service:    s,
		Name:       string(md.Name()),
		Procedure:  "/" + s.FullName + "/" + string(md.Name()),
		QueueGroup: s.QueueGroup,
		Timeout:    s.DefaultTimeout,
		Skip:       s.Skip || opts.GetSkip(),
	}
	if o, ok := md.Options().(*descriptorpb.MethodOptions); ok {
		m.Deprecated = o.GetDeprecated()
		m.Idempotency = o.GetIdempotencyLevel()
	}
	errAt := func(option, format string, args ...any) error {
		return &Error{File: md.ParentFile().Path(), Element: string(md.FullName()), Option: option, Problem: fmt.Sprintf(format, args...)}
	}
	token := string(md.Name())
	if sub := opts.GetSubject(); sub != "" {
		if err := ValidateSubject(sub); err != nil {
			return nil, errAt("(natsrpc.v1.method).subject", "%q: %v", sub, err)
		}
		token = sub
	}
	m.Subject = s.SubjectBase + "." + token
	// Prefix, base and token are valid on their own; together they may
	// still be too long to listen on.
	if err := ValidateSubject(m.Subject); err != nil {
		return nil, errAt("(natsrpc.v1.method).subject", "the method's subject %q: %v", m.Subject, err)
	}
	if d := opts.GetTimeout(); d != nil {
		t, err := positiveDuration(d.GetSeconds(), d.GetNanos())
		if err != nil {
			return nil, errAt("(natsrpc.v1.method).timeout", "%v", err)
		}
		m.Timeout = t
	}
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		m.Kind = KindBidiStream
	case md.IsStreamingClient():
		m.Kind = KindClientStream
	case md.IsStreamingServer():
		m.Kind = KindServerStream
	default:
		m.Kind = KindUnary
	}
	switch opts.GetKind() {
	case natsrpcv1.MethodKind_METHOD_KIND_UNSPECIFIED, natsrpcv1.MethodKind_METHOD_KIND_REQUEST_REPLY:
		if opts.GetDelivery() != natsrpcv1.EventDelivery_EVENT_DELIVERY_UNSPECIFIED {
			return nil, errAt("(natsrpc.v1.method).delivery", "only events have a delivery; set kind: METHOD_KIND_EVENT or remove delivery")
		}
		if opts.GetDurable() != nil {
			return nil, errAt("(natsrpc.v1.method).durable", "only events can be durable; set kind: METHOD_KIND_EVENT or remove durable")
		}
	case natsrpcv1.MethodKind_METHOD_KIND_EVENT:
		if m.Kind != KindUnary {
			return nil, errAt("(natsrpc.v1.method).kind", "an event cannot stream; remove \"stream\" from the method or make it request/reply")
		}
		if out := md.Output().FullName(); out != "google.protobuf.Empty" {
			return nil, errAt("(natsrpc.v1.method).kind", "an event must return google.protobuf.Empty, not %q", out)
		}
		m.Kind = KindEvent
		m.Delivery = DeliveryQueue
		if opts.GetDelivery() == natsrpcv1.EventDelivery_EVENT_DELIVERY_BROADCAST {
			m.Delivery = DeliveryBroadcast
			m.QueueGroup = ""
		}
		if d := opts.GetDurable(); d != nil {
			if m.Delivery == DeliveryBroadcast {
				return nil, errAt("(natsrpc.v1.method).durable", "a durable event is consumed once by a durable consumer and cannot be broadcast; remove delivery or durable")
			}
			if err := validateDurable(d); err != nil {
				return nil, errAt("(natsrpc.v1.method).durable", "%v", err)
			}
			m.Durable = d
		}
	default:
		return nil, errAt("(natsrpc.v1.method).kind", "unknown kind %d", int32(opts.GetKind()))
	}
	return m, nil
}

var streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func validateDurable(d *natsrpcv1.DurableEvent) error {
	if s := d.GetStream(); s != "" && !streamNameRE.MatchString(s) {
		return fmt.Errorf("stream %q: use only letters, digits, \"_\" and \"-\"", s)
	}
	if c := d.GetConsumer(); c != "" && !streamNameRE.MatchString(c) {
		return fmt.Errorf("consumer %q: use only letters, digits, \"_\" and \"-\"", c)
	}
	if r := d.GetReplicas(); r < 0 || r > 5 {
		return fmt.Errorf("replicas %d: must be from 1 to 5 (0 means 1)", r)
	}
	if d.GetMaxDeliver() < 0 {
		return fmt.Errorf("max_deliver %d: must not be negative", d.GetMaxDeliver())
	}
	if d.GetMaxBytes() < 0 {
		return fmt.Errorf("max_bytes %d: must not be negative", d.GetMaxBytes())
	}
	for name, dur := range map[string]interface {
		GetSeconds() int64
		GetNanos() int32
	}{"max_age": d.GetMaxAge(), "duplicate_window": d.GetDuplicateWindow(), "ack_wait": d.GetAckWait()} {
		if dur == nil || (dur.GetSeconds() == 0 && dur.GetNanos() == 0) {
			continue
		}
		if _, err := positiveDuration(dur.GetSeconds(), dur.GetNanos()); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	for i, b := range d.GetBackoff() {
		if _, err := positiveDuration(b.GetSeconds(), b.GetNanos()); err != nil {
			return fmt.Errorf("backoff[%d]: %w", i, err)
		}
	}
	return nil
}

func positiveDuration(sec int64, nanos int32) (time.Duration, error) {
	if sec < 0 || nanos < 0 || nanos >= 1e9 {
		return 0, fmt.Errorf("duration {seconds: %d, nanos: %d} must be positive with nanos below 1e9", sec, nanos)
	}
	if sec > int64((24*time.Hour)/time.Second) {
		return 0, fmt.Errorf("duration of %d seconds is longer than 24 hours", sec)
	}
	d := time.Duration(sec)*time.Second + time.Duration(nanos)
	if d <= 0 {
		return 0, errors.New("duration must be greater than zero")
	}
	return d, nil
}

// MaxSubjectLength is the longest subject, in bytes, a service may listen
// on, its prefixes included. NATS has no subject limit of its own, but a
// subject travels in a protocol line that the server caps (4096 bytes by
// default) and answers by closing the connection when it is longer; the
// schema registry also writes each subject, escaped to up to three times
// its length, into a key. 1024 bytes keeps both well inside the cap.
const MaxSubjectLength = 1024

// ValidateSubject reports whether s is a literal NATS subject a service may
// listen on: one or more tokens separated by single dots, no wildcards, no
// whitespace, not starting with "$" (reserved for the system: $SRV, $JS),
// and at most [MaxSubjectLength] bytes.
func ValidateSubject(s string) error {
	if s == "" {
		return errors.New("subject is empty")
	}
	if len(s) > MaxSubjectLength {
		return fmt.Errorf("subject is %d bytes long; NATS subjects natsrpc listens on are at most %d bytes: shorten it", len(s), MaxSubjectLength)
	}
	if strings.HasPrefix(s, "$") {
		return errors.New("subjects starting with \"$\" are reserved for NATS")
	}
	for i, tok := range strings.Split(s, ".") {
		if err := ValidateToken(tok); err != nil {
			return fmt.Errorf("token %d: %w", i+1, err)
		}
	}
	return nil
}

// ValidateToken reports whether tok is one literal NATS subject token.
func ValidateToken(tok string) error {
	if tok == "" {
		return errors.New("empty token (two dots in a row, or a leading or trailing dot)")
	}
	for _, r := range tok {
		switch {
		case r == '.':
			return fmt.Errorf("%q contains a dot", tok)
		case r == '*' || r == '>':
			return fmt.Errorf("%q contains the wildcard %q", tok, r)
		case r <= ' ' || r == 0x7f:
			return fmt.Errorf("%q contains whitespace or a control character", tok)
		}
	}
	return nil
}

// FileOptions returns the natsrpc file options of fd; nil when unset.
func FileOptions(fd protoreflect.FileDescriptor) (*natsrpcv1.FileOptions, error) {
	v, err := extension(fd.Options(), natsrpcv1.E_File)
	o, _ := v.(*natsrpcv1.FileOptions)
	return o, err
}

// ServiceOptions returns the natsrpc service options of sd; nil when unset.
func ServiceOptions(sd protoreflect.ServiceDescriptor) (*natsrpcv1.ServiceOptions, error) {
	v, err := extension(sd.Options(), natsrpcv1.E_Service)
	o, _ := v.(*natsrpcv1.ServiceOptions)
	return o, err
}

// MethodOptions returns the natsrpc method options of md; nil when unset.
func MethodOptions(md protoreflect.MethodDescriptor) (*natsrpcv1.MethodOptions, error) {
	v, err := extension(md.Options(), natsrpcv1.E_Method)
	o, _ := v.(*natsrpcv1.MethodOptions)
	return o, err
}

// extension reads xt from opts. Descriptors built without natsrpc's
// extensions in their resolver (a descriptor set read by the registry, files
// compiled by protocompile) keep the option as unknown bytes or as a dynamic
// message, so the options are always re-parsed here against the generated
// extension types: marshal them (known and unknown fields alike) and read
// them back into a fresh message whose resolver knows natsrpc's extensions.
func extension(opts protoreflect.ProtoMessage, xt protoreflect.ExtensionType) (any, error) {
	if opts == nil {
		return nil, nil
	}
	m := opts.ProtoReflect()
	if !m.IsValid() {
		return nil, nil
	}
	b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot encode options: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	var fresh proto.Message
	switch m.Descriptor().FullName() {
	case "google.protobuf.FileOptions":
		fresh = &descriptorpb.FileOptions{}
	case "google.protobuf.ServiceOptions":
		fresh = &descriptorpb.ServiceOptions{}
	case "google.protobuf.MethodOptions":
		fresh = &descriptorpb.MethodOptions{}
	default:
		return nil, nil
	}
	if err := (proto.UnmarshalOptions{AllowPartial: true, Resolver: protoregistry.GlobalTypes}).Unmarshal(b, fresh); err != nil {
		return nil, fmt.Errorf("option (%s) is malformed: %w", xt.TypeDescriptor().FullName(), err)
	}
	if !proto.HasExtension(fresh, xt) {
		return nil, nil
	}
	return proto.GetExtension(fresh, xt), nil
}
