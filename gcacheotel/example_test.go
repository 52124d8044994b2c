package gcacheotel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gcache-go/gcache/gcacheotel"
	"github.com/gcache-go/gcache/runtime"
	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A call that misses gets a span; the hit that follows gets none.
func ExampleNew() {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(context.Background())

	c, err := gcache.New(gcache.Config{
		Tracer:     gcacheotel.New(tp, gcacheotel.Options{}),
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	getUser, err := gcache.NewUseCase[string](c, gcache.UseCaseSpec{
		Name: "GetUser", KeyType: "user_id",
		Default: gcache.KeyConfig{Local: gcache.LayerConfig{TTL: time.Minute, Ramp: 100}},
	})
	if err != nil {
		panic(err)
	}

	ctx := gcache.Enable(context.Background())
	for range 2 {
		b := gcache.AppendString(nil, "42")
		_, _ = getUser.Get(ctx, getUser.Key(b, len(b)), func(context.Context) (string, error) { return "Ada", nil })
	}
	for _, s := range exporter.GetSpans() {
		fmt.Print(s.Name)
		for _, kv := range s.Attributes {
			if kv.Key == gcacheotel.OutcomeKey || kv.Key == gcacheotel.LayerKey {
				fmt.Printf(" %s=%s", kv.Key, kv.Value.Emit())
			}
		}
		fmt.Println()
	}
	// Output:
	// gcache.get GetUser gcache.outcome=miss gcache.layer=FUNCTION
}
