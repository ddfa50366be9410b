package shadow

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsrpc/natsrpc"
)

// CollectOptions narrow a report.
type CollectOptions struct {
	// Service is a service's full name ("gaming.quest_system.v1.QuestSystemService")
	// or micro name; empty reports every service that mirrors.
	Service string
	// Wait is how long to wait for instances to answer $SRV.STATS
	// (default 1s; collecting ends sooner once 250 ms pass without an
	// answer).
	Wait time.Duration
	// Samples is how many of the latest differences to show per method
	// (default 3).
	Samples int
	// Options name the stream.
	Options []Option
}

// Report is what `natsrpc shadow report` prints.
type Report struct {
	// Stream is the stream differences were read from; StreamMissing is
	// true when it does not exist (nothing was ever recorded).
	Stream        string          `json:"stream"`
	StreamMissing bool            `json:"stream_missing"`
	Services      []ServiceReport `json:"services"`
}

// ServiceReport is one service's shadow traffic.
type ServiceReport struct {
	// Service is the micro service name; Instances how many running
	// instances reported shadow stats.
	Service   string         `json:"service"`
	Instances int            `json:"instances"`
	Methods   []MethodReport `json:"methods"`
}

// MethodReport is one method's shadow traffic: the instances' stats
// merged, and the differences kept.
type MethodReport struct {
	Method string              `json:"method"`
	Stats  natsrpc.ShadowStats `json:"stats"`
	// Latencies in microseconds: medians and 99th percentiles (bucket
	// bounds, see natsrpc.ShadowLatency) and means.
	PrimaryP50    int64 `json:"primary_p50_us"`
	PrimaryP99    int64 `json:"primary_p99_us"`
	PrimaryMean   int64 `json:"primary_mean_us"`
	CandidateP50  int64 `json:"candidate_p50_us"`
	CandidateP99  int64 `json:"candidate_p99_us"`
	CandidateMean int64 `json:"candidate_mean_us"`
	// Kept is the number of differences in the stream; Paths how often
	// each field differs among them, most often first; Outcomes how many
	// differ in outcome (success against error, or two codes).
	Kept     int         `json:"kept"`
	Paths    []PathCount `json:"paths"`
	Outcomes int         `json:"outcomes"`
	// Latest are the latest differences kept, newest first.
	Latest []Record `json:"latest"`
}

// PathCount is how many kept differences a field differs in.
type PathCount struct {
	Path  string `json:"path"`
	Count int    `json:"count"`
}

// Collect gathers the report: $SRV.STATS of every instance of the
// service(s), and the differences stored in the stream.
func Collect(ctx context.Context, nc *nats.Conn, o CollectOptions) (*Report, error) {
	cfg := newConfig(o.Options)
	if o.Wait <= 0 {
		o.Wait = time.Second
	}
	if o.Samples <= 0 {
		o.Samples = 3
	}
	service := microName(o.Service)
	stats, err := gatherStats(ctx, nc, service, o.Wait)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	rep := &Report{Stream: cfg.stream, Services: []ServiceReport{}}
	if _, err := js.Stream(ctx, cfg.stream); err != nil {
		if !errorsIsNotFound(err) {
			return nil, fmt.Errorf("shadow: the stream %q: %w", cfg.stream, err)
		}
		rep.StreamMissing = true
	}
	var records []Record
	if !rep.StreamMissing {
		if records, err = Read(ctx, js, service, o.Options...); err != nil {
			return nil, err
		}
	}
	// service -> method -> report
	type key struct{ service, method string }
	methods := map[key]*MethodReport{}
	instances := map[string]int{}
	get := func(s, m string) *MethodReport {
		k := key{s, m}
		if methods[k] == nil {
			methods[k] = &MethodReport{Method: m, Paths: []PathCount{}, Latest: []Record{}}
		}
		return methods[k]
	}
	for _, st := range stats {
		counted := false
		for _, ep := range st.endpoints {
			mr := get(st.service, ep.name)
			mr.Stats.Merge(ep.stats)
			counted = true
		}
		if counted {
			instances[st.service]++
		}
	}
	paths := map[key]map[string]int{}
	for i := len(records) - 1; i >= 0; i-- { // newest first
		r := records[i]
		k := key{r.Service, r.Method}
		mr := get(r.Service, r.Method)
		mr.Kept++
		if len(r.Paths) == 0 {
			mr.Outcomes++
		}
		if paths[k] == nil {
			paths[k] = map[string]int{}
		}
		for _, p := range r.Paths {
			paths[k][p]++
		}
		if len(mr.Latest) < o.Samples {
			mr.Latest = append(mr.Latest, r)
		}
	}
	bySvc := map[string]*ServiceReport{}
	for k, mr := range methods {
		for p, n := range paths[k] {
			mr.Paths = append(mr.Paths, PathCount{Path: p, Count: n})
		}
		slices.SortFunc(mr.Paths, func(a, b PathCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Path, b.Path))
		})
		s := mr.Stats
		mr.PrimaryP50, mr.PrimaryP99, mr.PrimaryMean = micros(s.PrimaryLatency.Quantile(0.5)), micros(s.PrimaryLatency.Quantile(0.99)), micros(s.PrimaryLatency.Mean())
		mr.CandidateP50, mr.CandidateP99, mr.CandidateMean = micros(s.CandidateLatency.Quantile(0.5)), micros(s.CandidateLatency.Quantile(0.99)), micros(s.CandidateLatency.Mean())
		sr := bySvc[k.service]
		if sr == nil {
			sr = &ServiceReport{Service: k.service, Instances: instances[k.service]}
			bySvc[k.service] = sr
		}
		sr.Methods = append(sr.Methods, *mr)
	}
	for _, sr := range bySvc {
		slices.SortFunc(sr.Methods, func(a, b MethodReport) int { return strings.Compare(a.Method, b.Method) })
		rep.Services = append(rep.Services, *sr)
	}
	slices.SortFunc(rep.Services, func(a, b ServiceReport) int { return strings.Compare(a.Service, b.Service) })
	return rep, nil
}

func micros(d time.Duration) int64 { return d.Microseconds() }

func errorsIsNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound)
}

type instanceStats struct {
	service   string
	endpoints []endpointShadow
}

type endpointShadow struct {
	name  string
	stats natsrpc.ShadowStats
}

// gatherStats asks $SRV.STATS (of one service, or all) and collects the
// answers for up to wait, ending after 250 ms without one.
func gatherStats(ctx context.Context, nc *nats.Conn, service string, wait time.Duration) ([]instanceStats, error) {
	subject := micro.APIPrefix + ".STATS"
	if service != "" {
		subject += "." + service
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(subject, inbox, nil); err != nil {
		return nil, fmt.Errorf("shadow: ask %s: %w", subject, err)
	}
	deadline := time.Now().Add(wait)
	var out []instanceStats
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if len(out) > 0 {
			left = min(left, 250*time.Millisecond)
		}
		mctx, cancel := context.WithTimeout(ctx, left)
		m, err := sub.NextMsgWithContext(mctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			break
		}
		var st micro.Stats
		if err := json.Unmarshal(m.Data, &st); err != nil {
			continue // not a micro service's answer
		}
		is := instanceStats{service: st.Name}
		for _, ep := range st.Endpoints {
			var data struct {
				Shadow *natsrpc.ShadowStats `json:"shadow"`
			}
			if json.Unmarshal(ep.Data, &data) == nil && data.Shadow != nil {
				is.endpoints = append(is.endpoints, endpointShadow{name: ep.Name, stats: *data.Shadow})
			}
		}
		out = append(out, is)
	}
	return out, nil
}

// WriteText writes the report for people: per service, a table of its
// methods, then the fields that differ most and the latest difference.
func (r *Report) WriteText(w io.Writer) error {
	if len(r.Services) == 0 {
		_, err := fmt.Fprintln(w, "no shadow traffic: no running instance mirrors calls (natsrpc.WithShadow, natsrpc bridge --shadow-prefix) and no difference is stored")
		return err
	}
	for i, s := range r.Services {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s: %d instance(s) mirroring\n", s.Service, s.Instances)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "METHOD\tRATE\tMIRRORED\tCOMPARED\tEQUAL\tDIFFERENT\tCANDIDATE ERRORS\tSLOW\tDROPPED\tPRIMARY p50/p99\tCANDIDATE p50/p99")
		for _, m := range s.Methods {
			st := m.Stats
			fmt.Fprintf(tw, "%s\t%g\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s / %s\t%s / %s\n", m.Method, st.Rate, st.Mirrored, st.Compared, st.Equal, st.Different,
				st.CandidateErrors, st.Slow, st.Dropped, us(m.PrimaryP50), us(m.PrimaryP99), us(m.CandidateP50), us(m.CandidateP99))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, m := range s.Methods {
			if m.Kept == 0 && m.Stats.LastCandidateError == "" {
				continue
			}
			fmt.Fprintf(w, "  %s:", m.Method)
			if m.Kept > 0 {
				fmt.Fprintf(w, " %d difference(s) kept", m.Kept)
				if m.Outcomes > 0 {
					fmt.Fprintf(w, " (%d in outcome)", m.Outcomes)
				}
			}
			fmt.Fprintln(w)
			for _, p := range m.Paths {
				fmt.Fprintf(w, "    %-40s differs in %d\n", p.Path, p.Count)
			}
			if len(m.Latest) > 0 {
				l := m.Latest[0]
				fmt.Fprintf(w, "    latest, %s: request %s\n", l.Time.Format(time.RFC3339), compact(l.Request))
				if len(l.Paths) == 0 {
					fmt.Fprintf(w, "      primary:   %s\n      candidate: %s\n", answer(l.Primary, l.PrimaryError), answer(l.Candidate, l.CandidateError))
				}
				for _, p := range l.Paths {
					fmt.Fprintf(w, "      %s: primary %s, candidate %s\n", p, valueAt(l.Primary, p), valueAt(l.Candidate, p))
				}
			}
			if e := m.Stats.LastCandidateError; e != "" {
				fmt.Fprintf(w, "    last candidate error: %s\n", e)
			}
		}
	}
	if r.StreamMissing {
		fmt.Fprintf(w, "\n(no stream %q: differences are counted, not kept)\n", r.Stream)
	}
	return nil
}

func us(v int64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1000:
		return fmt.Sprintf("%dµs", v)
	default:
		return fmt.Sprintf("%.1fms", float64(v)/1000)
	}
}

func compact(b json.RawMessage) string {
	s := string(b)
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func answer(b json.RawMessage, e *ErrorRecord) string {
	if e != nil {
		return "error " + e.Code + ": " + e.Message
	}
	return compact(b)
}

// valueAt returns the JSON value at a differing path of a body
// ("quest.objectives[1].title", "progress[\"o1\"].count"), compact, or
// "(unset)" when the body has none there (protojson leaves zero values
// out).
func valueAt(body json.RawMessage, path string) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return "?"
	}
	for path != "" {
		switch {
		case path[0] == '.':
			path = path[1:]
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if strings.HasPrefix(path, "[\"") {
				// A quoted key may hold "]": find the closing quote.
				if q, err := strconv.QuotedPrefix(path[1:]); err == nil {
					end = 1 + len(q)
				}
			}
			if end < 0 {
				return "?"
			}
			key := path[1:end]
			path = path[end+1:]
			switch c := v.(type) {
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i < 0 || i >= len(c) {
					return "(unset)"
				}
				v = c[i]
			case map[string]any:
				if k, err := strconv.Unquote(key); err == nil {
					key = k
				}
				var ok bool
				if v, ok = c[key]; !ok {
					return "(unset)"
				}
			default:
				return "(unset)"
			}
		default:
			n := strings.IndexAny(path, ".[")
			if n < 0 {
				n = len(path)
			}
			name := path[:n]
			path = path[n:]
			c, ok := v.(map[string]any)
			if !ok {
				return "(unset)"
			}
			if v, ok = c[name]; !ok {
				return "(unset)"
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return compact(b)
}
