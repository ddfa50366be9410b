package lookup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsrpc/natsrpc/registry/client"
)

// Freshness: the registry's VersionCreated events, the resync after a
// reconnection or a gap, and the heads the client knows.

// onEvent applies a VersionCreated event.
func (c *Client) onEvent(msg *nats.Msg) {
	ev, err := client.DecodeVersionCreated(msg)
	if err != nil || ev.GetVersion().GetModule() == "" {
		return
	}
	c.stats.events.Add(1)
	name, v, digest := ev.GetVersion().GetModule(), ev.GetVersion().GetVersion(), ev.GetVersion().GetDigest()
	var missed bool
	if n, err := msg.Sub.Dropped(); err == nil && uint64(n) > c.dropped {
		c.dropped = uint64(n) // only this callback's goroutine touches it
		missed = true
	}
	c.mu.Lock()
	h := c.heads[name]
	if c.synced && v > h.version+1 {
		missed = true // a gap: versions between were never announced to us
	}
	if v > h.version || (v == h.version && digest != h.digest) {
		c.seq++
		c.heads[name] = head{version: v, digest: digest, seq: c.seq}
		clear(c.missing)
		c.stats.invalidations.Add(1)
	}
	if missed {
		c.unsyncLocked()
	}
	c.mu.Unlock()
	if missed {
		go c.resyncLoop()
	}
}

// flush makes a round trip to the server, bounded by ctx or, when ctx
// has no deadline, by the client's timeout.
func (c *Client) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	return c.nc.FlushWithContext(ctx)
}

// unsyncLocked records that events may have been missed.
func (c *Client) unsyncLocked() {
	c.synced = false
	c.epoch++
}

// watchConnection follows the connection's status: a disconnect means
// events may be missed; a reconnect means the subscription is back and the
// heads must be listed again.
func (c *Client) watchConnection() {
	defer close(c.done)
	for {
		select {
		case <-c.stopped:
			return
		case st, ok := <-c.status:
			if !ok {
				return
			}
			switch st {
			case nats.DISCONNECTED, nats.RECONNECTING:
				c.mu.Lock()
				c.unsyncLocked()
				c.mu.Unlock()
			case nats.CONNECTED:
				go c.resyncLoop()
			case nats.CLOSED:
				return
			}
		}
	}
}

// resyncLoop resynchronises, retrying with backoff until it succeeds, the
// client closes or the connection drops again (the next reconnect starts a
// new loop).
func (c *Client) resyncLoop() {
	backoff := 50 * time.Millisecond
	for {
		c.mu.Lock()
		epoch, done := c.epoch, c.synced || c.closed
		c.mu.Unlock()
		if done || !c.nc.IsConnected() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := c.resync(ctx)
		cancel()
		if err == nil {
			return
		}
		select {
		case <-c.stopped:
			return
		case <-time.After(backoff):
		}
		c.mu.Lock()
		changed := c.epoch != epoch
		c.mu.Unlock()
		if changed {
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// resync lists every module's head and applies them, unless the client is
// synchronised already. Concurrent calls share one listing. It returns nil
// only once the client is synchronised: a listing during which events may
// have been missed again (a disconnect, a gap) is repeated.
func (c *Client) resync(ctx context.Context) error {
	_, err := c.syncing.Do(ctx, "", func() (struct{}, error) {
		for attempt := 1; ; attempt++ {
			done, err := c.listHeads(ctx)
			if err != nil || done {
				return struct{}{}, err
			}
			if attempt == 3 {
				return struct{}{}, errors.New("lookup: events kept being missed while listing the registry's modules; retry")
			}
		}
	})
	return err
}

// listHeads makes one listing of the heads and applies it. It reports
// whether the client is synchronised afterwards.
func (c *Client) listHeads(ctx context.Context) (bool, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false, errClosed
	}
	if c.synced {
		c.mu.Unlock()
		return true, nil
	}
	epoch, seq := c.epoch, c.seq
	c.mu.Unlock()
	// Round trip to the server first: after a reconnect it makes sure the
	// server has our subscription again before we list.
	if err := c.flush(ctx); err != nil {
		return false, fmt.Errorf("lookup: reach NATS: %w", err)
	}
	mods, err := c.api.ListModules(ctx)
	if err != nil {
		return false, fmt.Errorf("lookup: list the registry's modules: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	listed := make(map[string]bool, len(mods))
	for _, m := range mods {
		listed[m.GetName()] = true
		h := c.heads[m.GetName()]
		if h.seq > seq && h.version >= m.GetLatestVersion() {
			continue // an event during the listing already said as much
		}
		if h.version != m.GetLatestVersion() || h.digest != m.GetLatestDigest() {
			c.stats.invalidations.Add(1)
		}
		c.heads[m.GetName()] = head{version: m.GetLatestVersion(), digest: m.GetLatestDigest()}
	}
	for name, h := range c.heads {
		if !listed[name] && h.seq <= seq {
			delete(c.heads, name)
			c.dropModuleLocked(name)
		}
	}
	clear(c.missing)
	c.stats.resyncs.Add(1)
	if c.epoch != epoch {
		return false, nil
	}
	c.synced = true
	return true, nil
}
