package promnatsrpc

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures an [Interceptor].
type Option interface {
	apply(*config)
}

type config struct {
	buckets     []float64
	constLabels prometheus.Labels
}

func (c *config) validate() error {
	if len(c.buckets) == 0 {
		return errors.New("histogram buckets are empty")
	}
	for i, b := range c.buckets {
		if math.IsNaN(b) || (i > 0 && b <= c.buckets[i-1]) {
			return fmt.Errorf("histogram buckets %v are not in increasing order", c.buckets)
		}
	}
	for name := range c.constLabels {
		switch name {
		case LabelType, LabelService, LabelMethod, LabelCode:
			return fmt.Errorf("constant label %q clashes with a variable label", name)
		}
	}
	return nil
}

// WithHistogramBuckets sets the upper bounds, in seconds and in increasing
// order, of the latency histograms' buckets. They default to
// [DefaultBuckets].
func WithHistogramBuckets(buckets ...float64) Option {
	return bucketsOption(buckets)
}

type bucketsOption []float64

func (o bucketsOption) apply(c *config) {
	c.buckets = append([]float64(nil), o...)
}

// WithConstLabels adds labels with fixed values to every metric, for
// example the name of a NATS system when one process talks to two. A
// registry wants the same label names on every metric of one name: give
// every interceptor on a registry the same constant label names; different
// values keep separate series.
func WithConstLabels(labels prometheus.Labels) Option {
	return constLabelsOption(labels)
}

type constLabelsOption prometheus.Labels

func (o constLabelsOption) apply(c *config) {
	if c.constLabels == nil {
		c.constLabels = prometheus.Labels{}
	}
	for k, v := range o {
		c.constLabels[k] = v
	}
}
