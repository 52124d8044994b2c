package rediscost

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// sent is what a client sent: commands by commandstats name, and round
// trips (a pipeline is one).
type sent struct {
	commands map[string]int64
	trips    int64
}

// sentCounter is a go-redis hook that counts what its clients send.
type sentCounter struct {
	mu sync.Mutex
	s  sent
}

func newSentCounter() *sentCounter {
	return &sentCounter{s: sent{commands: map[string]int64{}}}
}

func (c *sentCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *sentCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.count(cmd)
		return next(ctx, cmd)
	}
}

func (c *sentCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.count(cmds...)
		return next(ctx, cmds)
	}
}

func (c *sentCounter) count(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.trips++
	for _, cmd := range cmds {
		c.s.commands[commandName(cmd)]++
	}
}

func (c *sentCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = sent{commands: map[string]int64{}}
}

func (c *sentCounter) snapshot() sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := sent{commands: make(map[string]int64, len(c.s.commands)), trips: c.s.trips}
	for k, v := range c.s.commands {
		out.commands[k] = v
	}
	return out
}

// containers are the commands commandstats counts by subcommand.
var containers = map[string]bool{"client": true, "cluster": true, "config": true, "script": true, "function": true, "pubsub": true, "memory": true, "object": true, "command": true}

// commandName is cmd's name as commandstats spells it: "get",
// "client|setinfo".
func commandName(cmd redis.Cmder) string {
	name := cmd.Name()
	if args := cmd.Args(); containers[name] && len(args) > 1 {
		name += "|" + strings.ToLower(fmt.Sprint(args[1]))
	}
	return name
}
