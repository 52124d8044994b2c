package gcache

import (
	"errors"
	"time"
)

// errBadWatermark is counted when an entity's watermark is not a number.
var errBadWatermark = errors.New("gcache: the watermark is not a number")

// accept checks what a look at key in Redis, begun at local time readAt,
// found, and counts a miss and the errors it finds. negative is whether a
// negative answer is served, or a miss.
func (u *UseCase[T]) accept(key *Key, rd read, readAt int64, negative bool) (loaded[T], bool) {
	if rd.raw == nil {
		u.metrics.miss[Remote].child().Inc()
		return loaded[T]{}, false
	}
	res, ok, err := u.check(key, rd, readAt, negative)
	if err != nil {
		u.remoteError(errDecode, err)
	}
	if rd.badWM {
		u.remoteError(errDecode, errBadWatermark)
	}
	if !ok {
		u.metrics.miss[Remote].child().Inc()
		return loaded[T]{}, false
	}
	if res.negative {
		u.metrics.negativeHit[Remote].child().Inc()
	}
	return res, true
}

// check decodes what a look at key in Redis, begun at local time readAt,
// found, and checks a tracked value against its entity's watermark there
// and against what this process knows, which may be ahead of Redis (an
// invalidation still to be written, a Redis that restarted without its
// watermarks). err is a value that does not decode.
func (u *UseCase[T]) check(key *Key, rd read, readAt int64, negative bool) (res loaded[T], ok bool, err error) {
	if res, err = u.open(rd.raw); err != nil {
		return loaded[T]{}, false, err
	}
	res.validated = readAt
	if res.negative && !negative {
		return loaded[T]{}, false, nil
	}
	if !key.Tracked {
		return res, true, nil
	}
	entity := key.entityKey()
	if rd.wm > 0 {
		// Learn of another instance's invalidation before its event comes.
		u.c.wm.raiseMs(entity, rd.wm)
	}
	if rd.badWM || rd.wm*1e6 >= res.created || u.c.wm.lostBy(entity, rd.wm, res.created) ||
		u.c.wm.check(entity, res.created, readAt, u.c.clk.local()) == stale {
		return loaded[T]{}, false, nil
	}
	return res, true, nil
}

// open decodes a value read from Redis; its creation time is in ns.
func (u *UseCase[T]) open(raw []byte) (res loaded[T], err error) {
	start := time.Now()
	created, payload, err := openEnvelope(raw, u.codec.id, u.fp, u.c.cfg.MaxValueSize)
	if err != nil {
		return res, err
	}
	res.created, res.negative = created*1e6, isNegative(raw)
	if !res.negative {
		res.val, err = u.codec.unmarshal(payload)
	}
	u.metrics.load.child().Observe(time.Since(start).Seconds())
	return res, err
}

// seal encodes res for Redis. A value over the size limit is an error.
func (u *UseCase[T]) seal(res loaded[T]) ([]byte, errKind, error) {
	createdMs := res.created / 1e6
	if res.negative {
		return sealNegative(u.codec.id, createdMs, u.fp), "", nil
	}
	start := time.Now()
	payload, err := u.codec.marshal(res.val)
	if err != nil {
		return nil, errEncode, err
	}
	if err := checkSize(len(payload), u.c.cfg.MaxValueSize); err != nil {
		return nil, errTooLarge, err
	}
	data := sealEnvelope(u.codec.id, createdMs, u.fp, payload)
	u.metrics.dump.child().Observe(time.Since(start).Seconds())
	u.metrics.size.child().Observe(float64(len(data)))
	return data, "", nil
}

// write returns the Redis write of res under key, or nil when it cannot
// be encoded, which is counted.
func (u *UseCase[T]) write(key *Key, res loaded[T], cfg *KeyConfig) *write {
	data, kind, err := u.seal(res)
	if err != nil {
		u.remoteError(kind, err)
		return nil
	}
	w := &write{key: key.str, val: data, ttl: cfg.Remote.TTL, created: res.created / 1e6, wmKey: key.watermarkKey()}
	if res.negative {
		w.ttl = cfg.NegativeTTL
	}
	if key.Tracked {
		w.ttl = min(w.ttl, u.c.cfg.WatermarkTTL)
	}
	return w
}
