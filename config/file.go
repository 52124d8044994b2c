package config

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultPoll is how often the providers that reload look for changes.
const DefaultPoll = time.Second

// FileOptions configure a File provider.
type FileOptions struct {
	Options
	// Poll is how often the file is read for changes; default 1s.
	Poll time.Duration
}

// A File provider follows a JSON file in the Set format: it reads the file
// again every Poll and takes its configs when it changed. A file that
// cannot be read or parsed is logged and counted once
// (gcache_config_reload_error_counter_total{source="file"}), not at every
// poll, until it changes; the last good configs stay in force.
type File struct {
	table
	path   string
	poll   time.Duration
	opts   Options
	errors prometheus.Counter
	bg     *background

	last    []byte // the content last read, good or bad
	lastErr string // why the file could not be read last, or ""
}

// NewFile reads the file at path and follows it until Close. A file that
// cannot be read or parsed at start is an error.
func NewFile(path string, opts FileOptions) (*File, error) {
	if opts.Poll < 0 {
		return nil, fmt.Errorf("config: FileOptions.Poll %v is negative", opts.Poll)
	}
	if opts.Poll == 0 {
		opts.Poll = DefaultPoll
	}
	counter, err := opts.reloadErrors("file")
	if err != nil {
		return nil, err
	}
	f := &File{path: path, poll: opts.Poll, opts: opts.Options, errors: counter, bg: newBackground()}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	set, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	f.store(set.Configs)
	f.last = data
	go f.follow()
	return f, nil
}

// Provider returns the provider that answers from the file's configs.
func (f *File) Provider() gcache.ConfigProvider { return f.provide }

// Close stops following the file. The provider keeps its last configs.
func (f *File) Close() error {
	f.bg.halt()
	return nil
}

func (f *File) follow() {
	defer close(f.bg.done)
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	for {
		select {
		case <-f.bg.stop:
			return
		case <-tick.C:
			f.reload()
		}
	}
}

// reload reads the file and takes its configs when it changed.
func (f *File) reload() {
	data, err := os.ReadFile(f.path)
	// A bad file, or one that cannot be read, is reported once, not at
	// every poll.
	if err != nil {
		if err.Error() == f.lastErr {
			return
		}
		f.last, f.lastErr = nil, err.Error()
	} else {
		if f.lastErr == "" && bytes.Equal(data, f.last) {
			return
		}
		f.last, f.lastErr = data, ""
	}
	if err == nil {
		var set Set
		if set, err = Load(data); err == nil {
			f.store(set.Configs)
			f.opts.logger().Info("gcache: config file reloaded", "path", f.path, "use_cases", len(set.Configs))
			return
		}
	}
	f.errors.Inc()
	f.opts.logger().Error("gcache: config file not reloaded; the last good configs stay in force", "path", f.path, "error", err)
}
