package gcache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcache-go/gcache/internal/events"
	"github.com/redis/go-redis/v9"
)

// Events on the channel "<prefix>:gcache:events", one per message, in the
// format of package internal/events.
const (
	eventInvalidate = events.Invalidate
	eventDelete     = events.Delete
	eventFlush      = events.Flush
	eventPurge      = events.Purge
)

func (c *Cache) channel() string { return events.Channel(c.cfg.KeyPrefix) }

func (c *Cache) publish(ctx context.Context, msg string) error {
	return c.remote.publish(ctx, c.channel(), msg)
}

// apply applies an event from another instance (or this one) to the local
// tier. Malformed events are logged and ignored.
func (c *Cache) apply(msg string) {
	e, err := events.Parse(msg)
	if err != nil {
		c.log.error("ignored a malformed event", "event", msg)
		return
	}
	switch e.Kind {
	case events.Invalidate:
		for _, inv := range e.Invalidations {
			c.wm.raise(c.entity(e.KeyType, inv.ID), inv.Watermark)
		}
	case events.Delete:
		if i := strings.LastIndexByte(e.Key, '#'); i >= 0 {
			if uc := c.useCase(e.Key[i+1:]); uc != nil {
				uc.deleteLocal(e.Key)
			}
		}
	case events.Flush:
		c.eachUseCase(useCaseHandle.clearLocal)
	case events.Purge:
		if uc := c.useCase(e.UseCase); uc != nil {
			uc.clearLocal()
		}
	}
}

// Timing of the subscription. A heartbeat goes out every heartbeatEvery;
// a subscription that receives nothing for deadAfter is taken for dead.
const (
	heartbeatEvery  = 20 * time.Millisecond
	deadAfter       = 3 * time.Second
	minResubscribe  = 50 * time.Millisecond
	maxResubscribe  = 2 * time.Second
	resubscribeGrow = 2
)

// subscriber applies the events of other instances, and keeps the
// watermark table's measure of how current it is.
//
// Heartbeats travel the events' own path: each instance publishes its own
// on a channel of its own, through every server that publishes events (on
// a cluster, every master), and receives them on the subscription that
// carries the events. A server delivers the messages of one connection to
// a subscriber in the order it published them, so a heartbeat sent at t
// arrives after every event published before t, wherever the subscription
// is: on the server, on a replica behind it, or on another cluster node.
// When one arrives, the table is current as of t. A subscription that
// lags, one on a server that is no longer the primary, or one that is
// gone, stops the heartbeats, and with them the serving of tracked local
// entries on the strength of the events.
//
// The same goroutine measures the fleet clock, before it subscribes and
// then every syncEvery, and notices a Redis that restarted empty: the
// watermarks are gone, so every tracked entry checked before is stale.
type subscriber struct {
	c         *Cache
	heartbeat string // this instance's heartbeat channel
	cancel    context.CancelFunc
	done      chan struct{}

	mu     sync.Mutex
	ps     *redis.PubSub     // the current subscription, closed by stop
	runIDs map[string]string // of the servers by address, to notice a restart
	up     atomic.Bool       // subscribed to both channels

	beats beats
}

func startSubscriber(c *Cache) *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{c: c, cancel: cancel, done: make(chan struct{}),
		heartbeat: c.cfg.KeyPrefix + ":gcache:heartbeat:" + newToken()}
	var wg sync.WaitGroup
	wg.Go(func() { s.run(ctx) })
	wg.Go(func() { s.beat(ctx) })
	go func() { wg.Wait(); close(s.done) }()
	return s
}

// stop ends the subscription and waits for its goroutines.
func (s *subscriber) stop() {
	s.cancel()
	s.mu.Lock()
	if s.ps != nil {
		_ = s.ps.Close() // unblocks a pending receive
	}
	s.mu.Unlock()
	<-s.done
}

func (s *subscriber) run(ctx context.Context) {
	wait := minResubscribe
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := s.session(ctx, attempt)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSubscribed) {
			wait = minResubscribe
		}
		s.c.log.error("event subscription lost; tracked local entries are served only within Config.OutageStaleness until it is back", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*resubscribeGrow, maxResubscribe)
	}
}

// session measures the clock, subscribes, and applies events until the
// subscription fails or ctx ends.
func (s *subscriber) session(ctx context.Context, attempt int) error {
	if err := s.sync(ctx); err != nil {
		if _, _, known := s.c.clk.fleet(); !known {
			return err
		}
	}
	hook(&hooks.session, func(f func(*Cache)) { f(s.c) })
	s.mu.Lock()
	if ctx.Err() != nil {
		s.mu.Unlock()
		return ctx.Err()
	}
	s.ps = s.c.remote.subscribe(ctx, attempt, s.c.channel(), s.heartbeat)
	ps := s.ps
	s.mu.Unlock()
	defer func() {
		_ = ps.Close()
		s.up.Store(false)
		// Until the next session reads the server's run id, Redis may
		// have restarted without its watermarks.
		s.c.wm.lose(s.c.clk.local())
	}()
	return s.receive(ctx, ps)
}

// hooks let tests hold the runtime at chosen points, to drive an
// interleaving against a real Redis without sleeps. They are nil but in
// tests.
var hooks struct {
	session atomic.Pointer[func(*Cache)] // before a session subscribes
	message atomic.Pointer[func(*Cache)] // before a message is applied
	forget  atomic.Pointer[func()]       // after trim forgets an entity
	lease   atomic.Pointer[func()]       // when a call begins to wait for a lease
	write   atomic.Pointer[func()]       // before a background write runs
}

// hook runs the hook h points to, if any.
func hook[F any](h *atomic.Pointer[F], call func(F)) {
	if f := h.Load(); f != nil {
		call(*f)
	}
}

// errSubscribed wraps the error that ended a subscription that had worked.
var errSubscribed = errors.New("gcache: subscription dropped")

// receive applies events and heartbeats until the connection fails, goes
// quiet for deadAfter, or ctx ends.
func (s *subscriber) receive(ctx context.Context, ps *redis.PubSub) error {
	subscribed := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, deadAfter)
		if err != nil {
			if subscribed == 2 {
				return fmt.Errorf("%w: %w", errSubscribed, err)
			}
			return err
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				if subscribed++; subscribed == 2 {
					// Events sent before now may have been missed.
					s.c.wm.gap(s.c.clk.local())
					s.up.Store(true)
				}
			}
		case *redis.Message:
			hook(&hooks.message, func(f func(*Cache)) { f(s.c) })
			if m.Channel == s.heartbeat {
				if sent, ok := s.beats.arrived(m.Payload); ok {
					s.c.wm.heard(sent)
				}
				continue
			}
			s.c.apply(m.Payload)
		}
	}
}

// beat publishes a heartbeat every heartbeatEvery, and measures the clock
// every syncEvery, until ctx ends.
func (s *subscriber) beat(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(lastSync) >= syncEvery {
			lastSync = time.Now()
			// A failure shows in the subscription too.
			_ = s.sync(ctx)
		}
		s.send(ctx)
	}
}

// send publishes one heartbeat: "<sequence> <servers> <local ns sent>",
// through each server that publishes events.
func (s *subscriber) send(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.c.cfg.RedisTimeout)
	defer cancel()
	servers := s.c.remote.publishers(ctx)
	payload := s.beats.next(len(servers), s.c.clk.local())
	for _, srv := range servers {
		_ = srv.Publish(ctx, s.heartbeat, payload).Err()
	}
}

// sync measures the fleet clock and notices a server that restarted or
// failed over.
func (s *subscriber) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.c.cfg.RedisTimeout)
	defer cancel()
	if err := s.c.clk.measure(ctx, s.c.remote.time); err != nil {
		return err
	}
	runIDs := s.c.remote.runIDs(ctx)
	restarted := s.sawRestart(runIDs)
	if restarted {
		// Its watermarks are gone: what was checked against them may be
		// stale, as after a gap in the events.
		now := s.c.clk.local()
		s.c.wm.lose(now)
		s.c.wm.gap(now)
		s.c.log.error("Redis restarted or failed over; tracked entries checked before are dropped", "run_ids", runIDs)
	}
	return nil
}

// sawRestart records the run ids of the servers that answered, and
// reports whether one of them restarted, or failed over: a known server
// whose run id changed, or, once the servers are known, a new one (a
// replica promoted to a new address). A server that did not answer keeps
// the run id it had.
func (s *subscriber) sawRestart(runIDs map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	restarted := false
	for addr, id := range runIDs {
		if old, known := s.runIDs[addr]; known && old != id || !known && s.runIDs != nil {
			restarted = true
		}
	}
	if s.runIDs == nil {
		s.runIDs = map[string]string{}
	}
	maps.Copy(s.runIDs, runIDs)
	return restarted
}

// beats numbers heartbeats, and tells when one has arrived through every
// server it was sent through.
type beats struct {
	mu      sync.Mutex
	seq     int64
	pending map[int64]int // sequence → arrivals still awaited
}

// next returns the payload of the next heartbeat, sent at local time sent
// through n servers.
func (b *beats) next(n int, sent int64) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	return strconv.FormatInt(b.seq, 10) + " " + strconv.Itoa(n) + " " + strconv.FormatInt(sent, 10)
}

// arrived records the arrival of a heartbeat through one server, and
// reports when it was sent once it has arrived through all of them.
func (b *beats) arrived(payload string) (sent int64, ok bool) {
	f := strings.Split(payload, " ")
	if len(f) != 3 {
		return 0, false
	}
	seq, err1 := strconv.ParseInt(f[0], 10, 64)
	n, err2 := strconv.Atoi(f[1])
	sent, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || n < 1 {
		return 0, false
	}
	if n == 1 {
		return sent, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[int64]int{}
	}
	left, seen := b.pending[seq]
	if !seen {
		left = n
	}
	if left--; left > 0 {
		b.pending[seq] = left
		return 0, false
	}
	// Complete: forget it, and the ones before it, which can no longer
	// raise the view.
	for s := range b.pending {
		if s <= seq {
			delete(b.pending, s)
		}
	}
	return sent, true
}
