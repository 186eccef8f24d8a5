package emulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

func TestHTTPFaults(t *testing.T) {
	client, _ := newSDK(t, Config{})
	cases := []struct {
		marker, code, msg string
	}{
		{"throttle", "ThrottlingException", "Too many requests, please wait before trying again."},
		{"throttle-stream", "ThrottlingException", "Too many requests, please wait before trying again."},
		{"model-timeout", "ModelTimeoutException", "Model has timed out in processing the request. Try your request again."},
		{"model-not-ready", "ModelNotReadyException", ""},
		{"unavailable", "ServiceUnavailableException", "Bedrock is unable to process your request."},
		{"internal-error", "InternalServerException", ""},
		{"model-error", "ModelErrorException", ""},
		{"model-stream-error", "ModelErrorException", ""},
	}
	for _, tc := range cases {
		t.Run(tc.marker, func(t *testing.T) {
			_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("hello [[quarry:" + tc.marker + "]] there")})
			code, msg := apiCode(err)
			if code != tc.code || (tc.msg != "" && msg != tc.msg) {
				t.Errorf("got %q %q (%v)", code, msg, err)
			}
		})
	}
	var me *types.ModelErrorException
	_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("[[quarry:model-error]]")})
	if !errors.As(err, &me) || me.OriginalStatusCode == nil || me.ResourceName == nil {
		t.Errorf("ModelErrorException members: %v", err)
	}
	// reset and truncate break the response itself.
	for _, m := range []string{"reset", "truncate"} {
		_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("[[quarry:" + m + "]] hi")})
		if err == nil {
			t.Errorf("%s: no error", m)
		}
	}
}

func TestStreamFaults(t *testing.T) {
	client, _ := newSDK(t, Config{})
	cases := []struct {
		marker string
		check  func(error) bool
	}{
		{"throttle-stream", func(err error) bool { var x *types.ThrottlingException; return errors.As(err, &x) }},
		{"model-stream-error", func(err error) bool {
			var x *types.ModelStreamErrorException
			return errors.As(err, &x) && x.OriginalStatusCode != nil
		}},
		{"reset", func(err error) bool { return err != nil }},
	}
	for _, tc := range cases {
		t.Run(tc.marker, func(t *testing.T) {
			evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
				Messages: userText("Tell me a long story about dragons and castles [[quarry:" + tc.marker + "]]")})
			if !tc.check(err) {
				t.Errorf("err %T %v", err, err)
			}
			if len(evs) != streamFaultAfter {
				t.Errorf("%d events before the fault, want %d", len(evs), streamFaultAfter)
			}
		})
	}
	t.Run("truncate", func(t *testing.T) {
		evs, err := streamEvents(t, client, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("anthropic.claude-3-haiku-20240307-v1:0"),
			Messages: userText("Tell me a story [[quarry:truncate]]")})
		if len(evs) == 0 {
			t.Fatal("no events")
		}
		if _, ok := evs[len(evs)-1].(*types.ConverseStreamOutputMemberMetadata); ok {
			t.Errorf("metadata arrived despite truncation (err %v)", err)
		}
		if _, ok := evs[len(evs)-1].(*types.ConverseStreamOutputMemberMessageStop); !ok {
			t.Errorf("last event %T, want messageStop (the frame after it is cut)", evs[len(evs)-1])
		}
	})
}

func TestFaultRates(t *testing.T) {
	run := func() string {
		client, _ := newSDK(t, Config{Seed: 7, Faults: Faults{Rules: []FaultRule{{Model: "amazon.nova-lite-v1:0", Fault: "throttle", Rate: 0.5}}}})
		var b strings.Builder
		for i := 0; i < 20; i++ {
			_, err := client.Converse(ctxT(t), &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("hello there")})
			if err != nil {
				b.WriteByte('T')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := run(), run()
	if a != b || !strings.Contains(a, "T") || !strings.Contains(a, ".") {
		t.Errorf("fault sequence %s vs %s", a, b)
	}
	if _, err := New(Config{Faults: Faults{Rules: []FaultRule{{Fault: "nope", Rate: 1}}}}); err == nil {
		t.Error("unknown fault accepted")
	}
}

func TestQuotas(t *testing.T) {
	client, _ := newSDK(t, Config{Quotas: Quotas{RequestsPerMinute: 2, PerModel: map[string]Quota{"amazon.nova-pro-v1:0": {TokensPerMinute: 500}}}})
	in := &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("hello there")}
	for i := 0; i < 2; i++ {
		if _, err := client.Converse(ctxT(t), in); err != nil {
			t.Fatal(err)
		}
	}
	_, err := client.Converse(ctxT(t), in)
	if code, msg := apiCode(err); code != "ThrottlingException" || msg != "Too many requests, please wait before trying again." {
		t.Errorf("rpm: %v", err)
	}
	// Tokens are reserved as input + maxTokens.
	in2 := &bedrockruntime.ConverseInput{ModelId: aws.String("amazon.nova-pro-v1:0"), Messages: userText("hello there"), InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(300)}}
	if _, err := client.Converse(ctxT(t), in2); err != nil {
		t.Fatal(err)
	}
	_, err = client.Converse(ctxT(t), in2)
	if code, msg := apiCode(err); code != "ThrottlingException" || msg != "Too many tokens, please wait before trying again." {
		t.Errorf("tpm: %v", err)
	}
}

func TestLatencyAndDisconnect(t *testing.T) {
	client, srv := newSDK(t, Config{Latency: Latency{FirstToken: 20 * time.Millisecond, BetweenTokens: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	out, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("amazon.nova-lite-v1:0"), Messages: userText("Tell me about rivers and lakes")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // messageStart, first delta
		if _, ok := <-out.GetStream().Events(); !ok {
			t.Fatalf("stream ended early: %v", out.GetStream().Err())
		}
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("latency not applied: %v", time.Since(start))
	}
	cancel()
	out.GetStream().Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Disconnects == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if srv.Stats().Disconnects != 1 {
		t.Errorf("disconnects = %d", srv.Stats().Disconnects)
	}
}
