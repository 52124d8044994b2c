// Package redisinfo reads what Redis servers say they spent: each
// command's calls and time (INFO commandstats), the process's CPU (INFO
// cpu) and its memory (INFO memory), so that a benchmark can charge the
// servers' work to the operations it ran between two reads.
//
// Commands a script runs (redis.call) are counted as commands of their
// own as well as inside the script's time: commandstats counts every
// command the server executes, not only those clients send.
package redisinfo

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Command is what the servers spent on one command.
type Command struct {
	Calls int64 // times it ran
	Usec  int64 // microseconds it ran, in total
}

// Stats are the counters of one or more servers, summed.
type Stats struct {
	// Commands by commandstats name: "get", "evalsha", "client|setinfo".
	Commands map[string]Command
	// CPU is the servers' processes' CPU time, user and system.
	CPU time.Duration
	// UsedMemory is the memory the servers' allocators hold, in bytes:
	// a level, not a counter.
	UsedMemory int64
}

// Read returns the stats of the servers, summed. Each read runs one INFO
// on each server, which Calls and Usec leave out.
func Read(ctx context.Context, servers ...*redis.Client) (Stats, error) {
	total := Stats{Commands: map[string]Command{}}
	for _, s := range servers {
		text, err := s.Info(ctx, "commandstats", "cpu", "memory").Result()
		if err != nil {
			return Stats{}, fmt.Errorf("redisinfo: INFO on %s: %w", s.Options().Addr, err)
		}
		st, err := Parse(text)
		if err != nil {
			return Stats{}, fmt.Errorf("redisinfo: %s: %w", s.Options().Addr, err)
		}
		total = total.add(st)
	}
	return total, nil
}

// Parse reads the commandstats, cpu and memory sections of INFO's reply.
func Parse(info string) (Stats, error) {
	st := Stats{Commands: map[string]Command{}}
	var sawSys, sawUser, sawMemory bool
	var sys, user float64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return Stats{}, fmt.Errorf("an INFO line without a colon: %q", line)
		}
		var err error
		switch {
		case strings.HasPrefix(name, "cmdstat_"):
			var c Command
			if c, err = parseCommand(value); err == nil {
				st.Commands[strings.TrimPrefix(name, "cmdstat_")] = c
			}
		case name == "used_cpu_sys":
			sys, err = strconv.ParseFloat(value, 64)
			sawSys = true
		case name == "used_cpu_user":
			user, err = strconv.ParseFloat(value, 64)
			sawUser = true
		case name == "used_memory":
			st.UsedMemory, err = strconv.ParseInt(value, 10, 64)
			sawMemory = true
		}
		if err != nil {
			return Stats{}, fmt.Errorf("INFO field %s: %w", name, err)
		}
	}
	if !sawSys || !sawUser || !sawMemory {
		return Stats{}, fmt.Errorf("INFO has no used_cpu_sys, used_cpu_user or used_memory: ask for its cpu and memory sections")
	}
	st.CPU = time.Duration((sys + user) * float64(time.Second))
	return st, nil
}

// parseCommand reads "calls=3,usec=21,usec_per_call=7.00,...".
func parseCommand(value string) (Command, error) {
	var c Command
	var sawCalls, sawUsec bool
	for field := range strings.SplitSeq(value, ",") {
		k, v, _ := strings.Cut(field, "=")
		var err error
		switch k {
		case "calls":
			c.Calls, err = strconv.ParseInt(v, 10, 64)
			sawCalls = true
		case "usec":
			c.Usec, err = strconv.ParseInt(v, 10, 64)
			sawUsec = true
		}
		if err != nil {
			return Command{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	if !sawCalls || !sawUsec {
		return Command{}, fmt.Errorf("no calls or usec in %q", value)
	}
	return c, nil
}

func (s Stats) add(o Stats) Stats {
	out := Stats{Commands: make(map[string]Command, len(s.Commands)), CPU: s.CPU + o.CPU, UsedMemory: s.UsedMemory + o.UsedMemory}
	for name, c := range s.Commands {
		out.Commands[name] = c
	}
	for name, c := range o.Commands {
		sum := out.Commands[name]
		out.Commands[name] = Command{Calls: sum.Calls + c.Calls, Usec: sum.Usec + c.Usec}
	}
	return out
}

// Sub returns what the servers did from before to s: the counters'
// differences, and s's UsedMemory. Commands that did not run are left out.
func (s Stats) Sub(before Stats) Stats {
	out := Stats{Commands: map[string]Command{}, CPU: s.CPU - before.CPU, UsedMemory: s.UsedMemory}
	for name, c := range s.Commands {
		b := before.Commands[name]
		if d := (Command{Calls: c.Calls - b.Calls, Usec: c.Usec - b.Usec}); d.Calls != 0 {
			out.Commands[name] = d
		}
	}
	return out
}

// ownCommand is the command Read runs, which Calls and Usec leave out.
const ownCommand = "info"

// Calls returns the calls of every command but INFO. Commands run by
// scripts count, as in commandstats.
func (s Stats) Calls() int64 {
	var n int64
	for name, c := range s.Commands {
		if name != ownCommand {
			n += c.Calls
		}
	}
	return n
}
