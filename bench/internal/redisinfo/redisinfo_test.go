package redisinfo

import (
	"context"
	"strings"
	"testing"

	"github.com/gcache-go/gcache/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestReadCountsCommands runs known commands on two real servers and
// checks that the difference of two reads counts them, INFO left out, and
// a script's inner command counted as commandstats counts it.
func TestReadCountsCommands(t *testing.T) {
	ctx := context.Background()
	a, b := redistest.Start(t).Client(), redistest.Start(t).Client()
	before, err := Read(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := a.Set(ctx, "k", i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for range 25 {
		if err := b.Get(ctx, "missing").Err(); err != redis.Nil {
			t.Fatalf("GET of a missing key: %v", err)
		}
	}
	if err := a.Eval(ctx, "return redis.call('GET', KEYS[1])", []string{"k"}).Err(); err != nil {
		t.Fatal(err)
	}
	after, err := Read(ctx, a, b)
	if err != nil {
		t.Fatal(err)
	}
	d := after.Sub(before)
	if got := d.Commands["set"].Calls; got != 10 {
		t.Errorf("set: %d calls, want 10", got)
	}
	if got := d.Commands["get"].Calls; got != 26 {
		t.Errorf("get: %d calls, want 25 and 1 from the script", got)
	}
	if got := d.Commands["eval"].Calls; got != 1 {
		t.Errorf("eval: %d calls, want 1", got)
	}
	if got := d.Commands["info"].Calls; got != 2 {
		t.Errorf("info: %d calls, want one per server", got)
	}
	if got := d.Calls(); got != 37 {
		t.Errorf("Calls() = %d, want 37 (INFO left out): %v", got, d.Commands)
	}
	if d.CPU < 0 || after.CPU <= 0 {
		t.Errorf("CPU went from %v to %v", before.CPU, after.CPU)
	}
	if after.UsedMemory <= 0 {
		t.Errorf("UsedMemory = %d", after.UsedMemory)
	}
}

func TestParse(t *testing.T) {
	good := "# Commandstats\r\ncmdstat_get:calls=3,usec=21,usec_per_call=7.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=4,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n\r\n" +
		"# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\nused_cpu_sys_children:9.000000\r\n" +
		"# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n"
	st, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if st.Commands["get"] != (Command{Calls: 3, Usec: 21}) || st.Commands["client|setinfo"] != (Command{Calls: 2, Usec: 4}) {
		t.Errorf("commands: %v", st.Commands)
	}
	if st.CPU.Seconds() != 1.75 {
		t.Errorf("CPU = %v, want 1.75s (the server's own, not its children's)", st.CPU)
	}
	if st.UsedMemory != 1<<20 {
		t.Errorf("UsedMemory = %d", st.UsedMemory)
	}
	for name, bad := range map[string]string{
		"calls not a number": strings.Replace(good, "calls=3", "calls=x", 1),
		"no usec":            strings.Replace(good, "usec=21,", "", 1),
		"cpu not a number":   strings.Replace(good, "used_cpu_user:0.25", "used_cpu_user:z", 1),
		"no cpu section":     strings.Replace(good, "used_cpu_sys:", "other:", 1),
		"no colon":           good + "garbage\r\n",
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
