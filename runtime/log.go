package gcache

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logEvery is the shortest interval between two logs of one message.
const logEvery = 10 * time.Second

// limitedLog logs each message at most once per logEvery, with the number
// of occurrences it held back, so that a Redis outage under load does not
// turn into a log flood.
type limitedLog struct {
	log   *slog.Logger
	clock func() time.Time

	mu   sync.Mutex
	msgs map[string]*logState
}

type logState struct {
	next    time.Time
	dropped int
}

func newLimitedLog(l *slog.Logger, clock func() time.Time) *limitedLog {
	return &limitedLog{log: l, clock: clock, msgs: map[string]*logState{}}
}

func (l *limitedLog) error(msg string, args ...any) {
	now := l.clock()
	l.mu.Lock()
	s, ok := l.msgs[msg]
	if !ok {
		s = &logState{}
		l.msgs[msg] = s
	}
	if now.Before(s.next) {
		s.dropped++
		l.mu.Unlock()
		return
	}
	dropped := s.dropped
	s.next, s.dropped = now.Add(logEvery), 0
	l.mu.Unlock()
	if dropped > 0 {
		args = append(args, slog.Int("suppressed", dropped))
	}
	l.log.Log(context.Background(), slog.LevelError, "gcache: "+msg, args...)
}
