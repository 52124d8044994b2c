package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcache-go/gcache/internal/events"
	"github.com/gcache-go/gcache/internal/names"
	"github.com/redis/go-redis/v9"
)

// An InvalidateOption modifies an invalidation.
type InvalidateOption func(*invalidateOptions)

type invalidateOptions struct{ buffer time.Duration }

// WithFutureBuffer sets the watermark d into the future, so that entries
// written until then are stale too: for writers that commit after they
// invalidate, and for clocks that disagree between hosts.
func WithFutureBuffer(d time.Duration) InvalidateOption {
	return func(o *invalidateOptions) { o.buffer = d }
}

// Invalidate makes every tracked entry of the entity keyType:id stale, in
// every use case, with every argument, in both tiers of every instance
// sharing this Cache's Redis and prefix. Entries whose function call started
// before Invalidate are never served after it returns: this instance's
// local tier at once, other instances' as soon as the event reaches them.
//
// The watermark it writes is the one the Python gcache library reads and
// writes, so services in both languages invalidate each other. It only
// moves forward. An error leaves this instance's local tier invalidated;
// it is counted and returned.
func (c *Cache) Invalidate(ctx context.Context, keyType, id string, opts ...InvalidateOption) error {
	if !names.Valid(keyType) {
		return fmt.Errorf("gcache: key type %q: %s", keyType, names.Want)
	}
	var o invalidateOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer < 0 {
		return fmt.Errorf("gcache: future buffer %v is negative", o.buffer)
	}
	return c.invalidate(ctx, keyType, EscapeID(id), o.buffer)
}

func (c *Cache) invalidate(ctx context.Context, keyType, escapedID string, buffer time.Duration) error {
	entity := "{" + c.cfg.KeyPrefix + ":" + keyType + ":" + escapedID + "}"
	wm := c.now() + int64(buffer)
	c.wm.raise(entity, wm)
	c.metrics.invalidation.WithLabelValues(keyType, Local.String()).Inc()
	if c.remote == nil {
		return nil
	}
	event := eventInvalidate + " " + keyType + " " + escapedID + " "
	inForce, err := c.remote.raiseWatermark(ctx, watermarkKey(entity), wm, c.cfg.WatermarkTTL+buffer, c.channel(), event)
	if err == nil {
		c.metrics.invalidation.WithLabelValues(keyType, Remote.String()).Inc()
		if inForce > wm/1e6 { // a later invalidation, from elsewhere
			c.wm.raise(entity, msToNs(inForce))
		}
	}
	if err != nil {
		c.countError("", keyType, Remote.String(), err)
		return fmt.Errorf("gcache: invalidate %s: %w", entity, err)
	}
	return nil
}

// An Invalidator invalidates entities of one key type after writes; it is
// what a generated //gcache:invalidate method calls.
type Invalidator struct {
	c       *Cache
	keyType string
	buffer  time.Duration
}

// NewInvalidator returns an Invalidator of keyType.
func NewInvalidator(c *Cache, keyType string, opts ...InvalidateOption) (*Invalidator, error) {
	if !names.Valid(keyType) {
		return nil, fmt.Errorf("gcache: key type %q: %s", keyType, names.Want)
	}
	var o invalidateOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.buffer < 0 {
		return nil, fmt.Errorf("gcache: future buffer %v is negative", o.buffer)
	}
	return &Invalidator{c: c, keyType: keyType, buffer: o.buffer}, nil
}

// Invalidate invalidates the entity whose id, rendered by the Append
// functions, is id; idErr is the error of rendering it, if any. It runs
// after a write has succeeded, so it reports nothing back: a failure is
// logged and counted. It outlives the caller's context cancellation.
func (inv *Invalidator) Invalidate(ctx context.Context, id []byte, idErr error) {
	if idErr != nil {
		inv.c.metrics.errors.WithLabelValues("", inv.keyType, layerGlobal, string(errKey), "False").Inc()
		inv.c.log.error("could not render the id to invalidate", "key_type", inv.keyType, "error", idErr)
		return
	}
	// The error is counted and logged by invalidate.
	_ = inv.c.invalidate(context.WithoutCancel(ctx), inv.keyType, string(id), inv.buffer)
}

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
	// Fields are separated by one ASCII space, which keys always escape;
	// other white space (U+00A0...) may appear in ids as it is.
	fields := strings.Split(msg, " ")
	switch {
	case len(fields) == 4 && fields[0] == eventInvalidate:
		if ns, err := strconv.ParseInt(fields[3], 10, 64); err == nil {
			c.wm.raise("{"+c.cfg.KeyPrefix+":"+fields[1]+":"+fields[2]+"}", ns)
			return
		}
	case len(fields) == 2 && fields[0] == eventDelete:
		if i := strings.LastIndexByte(fields[1], '#'); i >= 0 {
			if uc := c.useCase(fields[1][i+1:]); uc != nil {
				uc.deleteLocal(fields[1])
			}
			return
		}
	case len(fields) == 1 && fields[0] == eventFlush:
		c.eachUseCase(useCaseHandle.clearLocal)
		return
	case len(fields) == 2 && fields[0] == eventPurge:
		if uc := c.useCase(fields[1]); uc != nil {
			uc.clearLocal()
		}
		return
	}
	c.log.error("ignored a malformed event", "event", msg)
}

// Timing of the subscription: an idle connection is pinged after
// pingAfter, and declared dead when the ping is not answered in as long.
const (
	pingAfter       = 2 * time.Second
	minResubscribe  = 50 * time.Millisecond
	maxResubscribe  = 2 * time.Second
	resubscribeGrow = 2
)

// subscriber applies the events of other instances. While it is not
// subscribed, events may be missed, so tracked local entries are not used;
// when it subscribes again, every tracked entry created before is dropped.
type subscriber struct {
	c      *Cache
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	ps *redis.PubSub // the current subscription, closed by stop
}

func startSubscriber(c *Cache) *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{c: c, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s
}

// stop ends the subscription and waits for its goroutine.
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
	defer close(s.done)
	wait := minResubscribe
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		if ctx.Err() != nil {
			s.mu.Unlock()
			return
		}
		s.ps = s.c.remote.subscribe(ctx, s.c.channel(), attempt)
		ps := s.ps
		s.mu.Unlock()

		err := s.receive(ctx, ps)
		_ = ps.Close()
		s.c.wm.live.Store(false)
		s.c.wm.raiseFloor(s.c.now())
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errSubscribed) {
			wait = minResubscribe
		}
		s.c.log.error("event subscription lost; tracked local entries are not used until it is back", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*resubscribeGrow, maxResubscribe)
	}
}

// errSubscribed wraps the error that ended a subscription that had worked.
var errSubscribed = errors.New("gcache: subscription dropped")

// receive applies events until the connection fails or ctx ends.
func (s *subscriber) receive(ctx context.Context, ps *redis.PubSub) error {
	subscribed, pinged := false, false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingAfter)
		var netErr interface{ Timeout() bool }
		switch {
		case err == nil:
			pinged = false
		case errors.As(err, &netErr) && netErr.Timeout() && !pinged && ctx.Err() == nil:
			pinged = true
			if err := ps.Ping(ctx); err != nil {
				return s.ended(subscribed, err)
			}
			continue
		default:
			return s.ended(subscribed, err)
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				subscribed = true
				s.c.wm.raiseFloor(s.c.now())
				s.c.wm.live.Store(true)
			}
		case *redis.Message:
			s.c.apply(m.Payload)
		}
	}
}

func (s *subscriber) ended(subscribed bool, err error) error {
	if subscribed {
		return fmt.Errorf("%w: %w", errSubscribed, err)
	}
	return err
}
