package emulator

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Fault names: the marker "[[quarry:<name>]]" anywhere in a request body
// injects the fault (see doc.go), and FaultRule.Fault uses the same names.
const (
	faultThrottle         = "throttle"
	faultThrottleStream   = "throttle-stream"
	faultModelTimeout     = "model-timeout"
	faultModelNotReady    = "model-not-ready"
	faultUnavailable      = "unavailable"
	faultInternal         = "internal-error"
	faultModelStreamError = "model-stream-error"
	faultModelError       = "model-error"
	faultReset            = "reset"
	faultTruncate         = "truncate"
	faultSlow             = "slow"
	faultStall            = "stall"
	faultBadCRC           = "bad-crc"
)

var faultNames = map[string]bool{
	faultThrottle: true, faultThrottleStream: true, faultModelTimeout: true, faultModelNotReady: true,
	faultUnavailable: true, faultInternal: true, faultModelStreamError: true, faultModelError: true,
	faultReset: true, faultTruncate: true, faultSlow: true, faultStall: true, faultBadCRC: true,
}

// streamFaultAfter is how many events a stream sends before an in-stream
// fault (throttle-stream, model-stream-error, reset) hits it.
const streamFaultAfter = 3

// slowLatency is what [[quarry:slow]] applies when Config.Latency is zero.
var slowLatency = Latency{FirstToken: 300 * time.Millisecond, BetweenTokens: 30 * time.Millisecond}

// faultInjector draws configured random faults from a seeded source, so a
// run with the same Seed and the same request order injects the same faults.
type faultInjector struct {
	rules []FaultRule
	mu    sync.Mutex
	rng   *rand.Rand
}

func newFaultInjector(seed uint64, f Faults) (*faultInjector, error) {
	for i, r := range f.Rules {
		if !faultNames[r.Fault] {
			return nil, fmt.Errorf("faults.rules[%d]: unknown fault %q", i, r.Fault)
		}
		if r.Rate < 0 || r.Rate > 1 {
			return nil, fmt.Errorf("faults.rules[%d]: rate %v is outside [0,1]", i, r.Rate)
		}
	}
	return &faultInjector{rules: f.Rules, rng: rand.New(rand.NewPCG(seed, 0xfa17))}, nil
}

// faults are the faults requested for one call.
type faults struct {
	kind string // the error fault, "" for none; never slow
	slow bool
}

// pick finds markers in the body, then draws the configured rules.
func (fi *faultInjector) pick(modelID string, body []byte) faults {
	var f faults
	rest := body
	for {
		i := bytes.Index(rest, []byte("[[quarry:"))
		if i < 0 {
			break
		}
		rest = rest[i+len("[[quarry:"):]
		j := bytes.Index(rest, []byte("]]"))
		if j < 0 {
			break
		}
		name := string(rest[:j])
		rest = rest[j:]
		if name == faultSlow {
			f.slow = true
		} else if faultNames[name] && f.kind == "" {
			f.kind = name
		}
	}
	if len(fi.rules) == 0 {
		return f
	}
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for _, r := range fi.rules {
		if r.Model != "" && r.Model != modelID {
			continue
		}
		if fi.rng.Float64() < r.Rate {
			if r.Fault == faultSlow {
				f.slow = true
			} else if f.kind == "" {
				f.kind = r.Fault
			}
		}
	}
	return f
}

// httpFault is the HTTP error a fault produces before any response is sent,
// or nil when the fault happens later (in the stream, or as a broken
// response). streaming says whether the operation streams.
func httpFault(kind string, streaming bool, modelARN string) *apiError {
	switch kind {
	case faultThrottle:
		return errThrottled()
	case faultThrottleStream:
		if !streaming {
			return errThrottled()
		}
	case faultModelTimeout:
		return errModelTimeout()
	case faultModelNotReady:
		return errModelNotReady()
	case faultUnavailable:
		return errUnavailable()
	case faultInternal:
		return errInternal()
	case faultModelError:
		return errModelError(modelARN)
	case faultModelStreamError:
		if !streaming {
			return errModelError(modelARN)
		}
	}
	return nil
}

// applyFaults fails the call for HTTP-level faults and reports whether the
// call may go on. reset on a non-streaming call drops the connection here.
func (c *call) applyFaults(f faults, streaming bool, model *Model) bool {
	if f.kind == "" {
		return true
	}
	if aerr := httpFault(f.kind, streaming, "arn:aws:bedrock:us-east-1::foundation-model/"+model.ID); aerr != nil {
		c.fail(aerr)
		return false
	}
	if f.kind == faultReset && !streaming {
		resetConn(c.w)
		return false
	}
	if f.kind == faultStall && !streaming {
		// Slower than any deadline: no answer until the client gives up.
		<-c.r.Context().Done()
		c.e.disconnects.Add(1)
		return false
	}
	return true
}

// resetConn drops the client connection with a TCP RST.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// writeTruncatedBody declares the full Content-Length but sends only half
// of body; the server then closes the connection, and the client sees an
// unexpected EOF.
func writeTruncatedBody(w http.ResponseWriter, body []byte) {
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	http.NewResponseController(w).Flush()
	resetConn(w)
}

// latency is the effective latency of a call.
func (e *Emulator) latency(f faults) Latency {
	l := e.cfg.Latency
	if f.slow {
		if l.FirstToken == 0 {
			l.FirstToken = slowLatency.FirstToken
		}
		if l.BetweenTokens == 0 {
			l.BetweenTokens = slowLatency.BetweenTokens
		}
	}
	return l
}

// quotaSet holds the per-model rate limiters.
type quotaSet struct {
	cfg      Quotas
	mu       sync.Mutex
	limiters map[string]*modelLimiter
}

type modelLimiter struct {
	requests *rate.Limiter // nil: unlimited
	tokens   *rate.Limiter
	tpm      int
}

func newQuotaSet(q Quotas) *quotaSet {
	return &quotaSet{cfg: q, limiters: map[string]*modelLimiter{}}
}

func (q *quotaSet) enabled() bool {
	return q.cfg.RequestsPerMinute > 0 || q.cfg.TokensPerMinute > 0 || len(q.cfg.PerModel) > 0
}

// admit charges one request and reserve tokens (input + maxTokens, as
// Bedrock reserves them) to model's quota, or returns Bedrock's throttle.
func (q *quotaSet) admit(modelID string, reserve int, now time.Time) *apiError {
	if !q.enabled() {
		return nil
	}
	q.mu.Lock()
	l := q.limiters[modelID]
	if l == nil {
		rpm, tpm := q.cfg.RequestsPerMinute, q.cfg.TokensPerMinute
		if pm, ok := q.cfg.PerModel[modelID]; ok {
			rpm, tpm = pm.RequestsPerMinute, pm.TokensPerMinute
		}
		l = &modelLimiter{tpm: tpm}
		if rpm > 0 {
			l.requests = rate.NewLimiter(rate.Limit(float64(rpm)/60), rpm)
		}
		if tpm > 0 {
			l.tokens = rate.NewLimiter(rate.Limit(float64(tpm)/60), tpm)
		}
		q.limiters[modelID] = l
	}
	q.mu.Unlock()
	if l.requests != nil && !l.requests.AllowN(now, 1) {
		return errThrottled()
	}
	if l.tokens != nil && (reserve > l.tpm || !l.tokens.AllowN(now, reserve)) {
		return errTooManyTokens()
	}
	return nil
}

// generateAdmitted generates the reply to req and charges the call to m's
// quota, reserving input + maxTokens (the model's limit when the request
// sets none) as Bedrock does.
func (e *Emulator) generateAdmitted(m *Model, req *genRequest) (genResult, *apiError) {
	res := generate(e.cfg.Seed, req)
	maxTok := req.MaxTokens
	if maxTok == 0 {
		maxTok = m.MaxTokens
	}
	return res, e.quotas.admit(m.ID, res.InputTokens+maxTok, time.Now())
}
