package natsrpc

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// subscribeDiscovery answers the micro verbs on the three subjects ADR-32
// defines: every service ($SRV.<VERB>), every instance of this service
// ($SRV.<VERB>.<name>) and this instance ($SRV.<VERB>.<name>.<id>). One
// wildcard subscription per level covers the three verbs, and natsrpc's
// own, [SchemaVerb].
func (s *Service) subscribeDiscovery() error {
	for _, subject := range []string{
		micro.APIPrefix + ".*",
		micro.APIPrefix + ".*." + s.spec.MicroName,
		micro.APIPrefix + ".*." + s.spec.MicroName + "." + s.id,
	} {
		sub, err := s.nc.Subscribe(subject, s.onDiscovery)
		if err != nil {
			return err
		}
		s.discovery = append(s.discovery, sub)
	}
	return nil
}

func (s *Service) onDiscovery(msg *nats.Msg) {
	if msg.Reply == "" {
		return
	}
	verb, _, _ := strings.Cut(strings.TrimPrefix(msg.Subject, micro.APIPrefix+"."), ".")
	var v any
	switch verb {
	case micro.PingVerb.String():
		v = micro.Ping{ServiceIdentity: s.identity(), Type: micro.PingResponseType}
	case micro.InfoVerb.String():
		v = s.Info()
	case micro.StatsVerb.String():
		v = s.Stats()
	case SchemaVerb:
		schema, err := s.Schema()
		if err != nil {
			respondDiscoveryError(msg, 500, err.Error())
			return
		}
		v = schema
	default:
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	if limit := s.nc.MaxPayload(); limit > 0 && int64(len(b)) > limit {
		respondDiscoveryError(msg, 413, fmt.Sprintf("the %s answer is %d bytes, more than the server's max_payload of %d bytes", verb, len(b), limit))
		return
	}
	_ = msg.Respond(b)
}

// respondDiscoveryError answers a discovery request with a micro error
// (ADR-32's headers, no body), so that the requester gets the reason at
// once instead of waiting for its timeout.
func respondDiscoveryError(msg *nats.Msg, code int, text string) {
	res := nats.NewMsg(msg.Reply)
	res.Header.Set(micro.ErrorHeader, text)
	res.Header.Set(micro.ErrorCodeHeader, strconv.Itoa(code))
	_ = msg.RespondMsg(res)
}

// identity returns the instance's identity. Its metadata holds, besides
// what NewService set, the path of the service's file and the file's
// digest ([MetadataFile], [MetadataFileDigest]): one short digest, not the
// schema, so that $SRV.INFO stays small. The digest is computed at the
// first discovery request, not when the service starts.
func (s *Service) identity() micro.ServiceIdentity {
	md := maps.Clone(s.metadata)
	fd := s.spec.Desc.ParentFile()
	md[MetadataFile] = fd.Path()
	if d := schemaOf(fd).fileDigest(); d != "" {
		md[MetadataFileDigest] = d
	}
	return micro.ServiceIdentity{
		Name:     s.spec.MicroName,
		ID:       s.id,
		Version:  s.spec.Version,
		Metadata: md,
	}
}

// Info returns what $SRV.INFO answers: the service's identity and its
// endpoints, one per served method, named after the method, with its
// subject, queue group and metadata (natsrpc.procedure, natsrpc.request,
// natsrpc.response, natsrpc.kind, natsrpc.idempotency,
// natsrpc.content_types, and natsrpc.timeout and natsrpc.deprecated when
// set).
func (s *Service) Info() micro.Info {
	eps := make([]micro.EndpointInfo, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		eps = append(eps, micro.EndpointInfo{
			Name:       ep.name,
			Subject:    ep.spec.Subject,
			QueueGroup: ep.queueGroup,
			Metadata:   maps.Clone(ep.metadata),
		})
	}
	return micro.Info{
		ServiceIdentity: s.identity(),
		Type:            micro.InfoResponseType,
		Description:     s.description,
		Endpoints:       eps,
	}
}

// endpointData is the free-form "data" of an endpoint's STATS entry.
type endpointData struct {
	// InFlight is how many of the endpoint's requests handlers run now.
	InFlight int64 `json:"in_flight"`
	// Rejected counts requests answered resource_exhausted because the
	// pool and its queue were full (also counted in num_errors).
	Rejected int64 `json:"rejected"`
	// Expired counts requests dropped unanswered because their deadline
	// passed before a worker took them (also counted in num_errors).
	Expired int64 `json:"expired"`
	// Panics counts handler panics (answered internal, counted in
	// num_errors).
	Panics int64 `json:"panics"`
	// QueueTime is the total time requests waited for a worker.
	QueueTime time.Duration `json:"queue_time"`
	// AverageQueueTime is QueueTime per request.
	AverageQueueTime time.Duration `json:"average_queue_time"`
	// PoolInFlight, PoolQueued, PoolConcurrency and PoolMaxPending describe
	// the service's worker pool, shared by all its endpoints.
	PoolInFlight    int64 `json:"pool_in_flight"`
	PoolQueued      int   `json:"pool_queued"`
	PoolConcurrency int   `json:"pool_concurrency"`
	PoolMaxPending  int   `json:"pool_max_pending"`

	// Streams (streaming methods only). StreamsActive and MaxStreams
	// describe the service's streams, shared by its streaming endpoints.
	StreamMessagesSent     int64 `json:"stream_messages_sent,omitempty"`
	StreamMessagesReceived int64 `json:"stream_messages_received,omitempty"`
	// CreditWaits counts sends that waited for the client's credit: a
	// client reading slower than the handler produces.
	CreditWaits   int64 `json:"credit_waits,omitempty"`
	StreamsActive int64 `json:"streams_active,omitempty"`
	MaxStreams    int   `json:"max_streams,omitempty"`

	// Durable events only.
	Redelivered int64 `json:"redelivered,omitempty"`
	Parked      int64 `json:"parked,omitempty"`
	AckFailures int64 `json:"ack_failures,omitempty"`
	// LastProblem is the latest trouble with the JetStream consumer
	// (a missed heartbeat while the server restarts, a failed ack).
	LastProblem string `json:"last_problem,omitempty"`
	// Unimplemented is true once the handler answered unimplemented and
	// the instance stopped consuming the event.
	Unimplemented bool `json:"unimplemented,omitempty"`

	// Shadow counts the endpoint's shadow traffic (WithShadow).
	Shadow *ShadowStats `json:"shadow,omitempty"`
}

// Stats returns what $SRV.STATS answers. Per endpoint, num_requests counts
// every request that ended (answered, rejected because the pool was full, or
// dropped because it expired in the queue); num_errors counts those that did
// not succeed, and last_error is the latest of them; processing_time and
// average_processing_time are real handler time, from a worker taking the
// request to the response being encoded (decoding, interceptors and
// encoding included), measured on the worker. data adds in-flight,
// rejected, expired and panic counts, queue wait and the pool's state. A
// request is counted just before its answer is sent; requests still running
// are not counted yet.
func (s *Service) Stats() micro.Stats {
	eps := make([]*micro.EndpointStats, 0, len(s.endpoints))
	poolInFlight, queued := s.pool.load()
	for _, ep := range s.endpoints {
		st := &ep.stats
		t := st.totals()
		es := &micro.EndpointStats{
			Name:           ep.name,
			Subject:        ep.spec.Subject,
			QueueGroup:     ep.queueGroup,
			NumRequests:    int(t.requests),
			NumErrors:      int(t.errors),
			ProcessingTime: time.Duration(t.processing),
		}
		if e := st.lastError.Load(); e != nil {
			es.LastError = e.Error()
		}
		data := endpointData{
			InFlight:        t.inFlight,
			Rejected:        st.rejected.Load(),
			Expired:         st.expired.Load(),
			Panics:          st.panics.Load(),
			QueueTime:       time.Duration(t.queueTime),
			PoolInFlight:    int64(poolInFlight),
			PoolQueued:      queued,
			PoolConcurrency: s.cfg.concurrency,
			PoolMaxPending:  s.cfg.maxPending,
			Unimplemented:   ep.unimplemented.Load(),
		}
		switch ep.spec.Kind {
		case MethodKindServerStream, MethodKindClientStream, MethodKindBidiStream:
			data.StreamMessagesSent = st.streamSent.Load()
			data.StreamMessagesReceived = st.streamReceived.Load()
			data.CreditWaits = st.creditWaits.Load()
			data.StreamsActive = s.activeStreams.Load()
			data.MaxStreams = s.cfg.maxStreams
		}
		if d := ep.durable; d != nil {
			data.Redelivered = d.redelivered.Load()
			data.Parked = d.parked.Load()
			data.AckFailures = d.ackFailures.Load()
			if p := d.lastProblem.Load(); p != nil {
				data.LastProblem = *p
			}
		}
		if sm := ep.shadow; sm != nil {
			st := sm.stats.snapshot(sm.rate)
			data.Shadow = &st
		}
		if t.requests > 0 {
			es.AverageProcessingTime = es.ProcessingTime / time.Duration(t.requests)
			data.AverageQueueTime = data.QueueTime / time.Duration(t.requests)
		}
		es.Data, _ = json.Marshal(data)
		eps = append(eps, es)
	}
	return micro.Stats{
		ServiceIdentity: s.identity(),
		Type:            micro.StatsResponseType,
		Started:         s.started,
		Endpoints:       eps,
	}
}
