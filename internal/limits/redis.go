package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript admits one call under every rule at once, or none, in one
// round trip. Per rule i (0-based), KEYS[3i+1..3i+3] are its request TAT,
// token TAT and lease set; ARGV[3+6i..] its request interval and tolerance,
// token interval and tolerance (ms), tokens charged ahead, and concurrency
// cap; ARGV[1] and ARGV[2] are the lease ID and its length (ms). The clock
// is Redis's, so replicas' clocks do not matter. It returns {0,0,0}, or
// {rule, kind, retry ms}: kind 1 requests, 2 tokens, 3 concurrency.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local id, lease = ARGV[1], tonumber(ARGV[2])
local n = #KEYS / 3
local tats, toks = {}, {}
for i = 0, n - 1 do
  local a = 3 + i * 6
  local ri, rtau = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local ti, ttau, est, maxc = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  if ri > 0 then
    local tat = math.max(tonumber(redis.call('GET', KEYS[i * 3 + 1]) or 0), now)
    if tat - now > rtau then return {i + 1, 1, math.ceil(tat - rtau - now)} end
    tats[i] = tat + ri
  end
  if ti > 0 then
    local tat = math.max(tonumber(redis.call('GET', KEYS[i * 3 + 2]) or 0), now)
    if tat - now > ttau then return {i + 1, 2, math.ceil(tat - ttau - now)} end
    toks[i] = tat + est * ti
  end
  if maxc > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i * 3 + 3], '-inf', now)
    if redis.call('ZCARD', KEYS[i * 3 + 3]) >= maxc then return {i + 1, 3, 0} end
  end
end
for i = 0, n - 1 do
  local a = 3 + i * 6
  if tats[i] then
    redis.call('SET', KEYS[i * 3 + 1], string.format('%.3f', tats[i]), 'PX', math.ceil(tats[i] - now) + 1000)
  end
  if toks[i] then
    redis.call('SET', KEYS[i * 3 + 2], string.format('%.3f', toks[i]), 'PX', math.ceil(toks[i] - now) + 1000)
  end
  if tonumber(ARGV[a + 5]) > 0 then
    redis.call('ZADD', KEYS[i * 3 + 3], now + lease, id)
    redis.call('PEXPIRE', KEYS[i * 3 + 3], lease + 1000)
  end
end
return {0, 0, 0}
`)

// tokensScript moves token TATs by ARGV[2i-1] tokens of ARGV[2i] ms each
// (fewer tokens move it back): usage known only after the call.
var tokensScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
for i = 1, #KEYS do
  local d, ti = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if d >= 0 then tat = math.max(tat, now) + d * ti else tat = tat + d * ti end
  if tat > now then
    redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
  else
    redis.call('DEL', KEYS[i])
  end
end
return 0
`)

// renewScript extends the lease ARGV[1] by ARGV[2] ms in every lease set
// of KEYS that still holds it.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2]) + 1000)
end
return 0
`)

// RedisOptions configure NewRedis (config.Limits).
type RedisOptions struct {
	URL      string
	Replicas int           // for the fallback share; default 1
	Timeout  time.Duration // bounds each round trip; default 100ms
	Lease    time.Duration // a concurrency slot's life without renewal; default 30s
	Prefix   string        // of every key
	Logger   *slog.Logger  // nil: slog.Default()
}

// redisRetry is how long a replica that found Redis unreachable decides on
// its local share alone before asking Redis again.
const redisRetry = time.Second

type redisBackend struct {
	rdb      *redis.Client
	opts     RedisOptions
	fallback *local
	log      *slog.Logger

	down    atomic.Bool
	retryAt atomic.Int64 // Unix ns: while down, when to ask Redis again

	mu   sync.Mutex
	held map[string][]string // lease ID → its lease sets, renewed while held
	stop chan struct{}
	done chan struct{}
}

// NewRedis returns a Limiter whose state every replica shares in Redis.
// It does not contact Redis: a Redis that is not there yet is the same as
// one that went away (each replica then allows its share).
func NewRedis(opts RedisOptions) (*Limiter, error) {
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		// Never quote the URL: it may hold a password.
		return nil, errors.New("limits: redis_url is not a valid Redis URL")
	}
	if opts.Replicas < 1 {
		opts.Replicas = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 100 * time.Millisecond
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// Every wait of the client is bounded by the timeout, and nothing is
	// retried: a request must never wait on Redis longer than that.
	ro.DialTimeout, ro.ReadTimeout, ro.WriteTimeout, ro.PoolTimeout = opts.Timeout, opts.Timeout, opts.Timeout, opts.Timeout
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries, ro.DialerRetries = -1, 1
	ro.DisableIdentity = true
	b := &redisBackend{rdb: redis.NewClient(ro), opts: opts, fallback: newLocal(), log: opts.Logger,
		held: map[string][]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	quietRedis.Do(func() { redis.SetLogger(redisLogger{opts.Logger}) })
	go b.renew()
	return &Limiter{b: b, shared: true, est: map[string]float64{}}, nil
}

func (b *redisBackend) key(scope, kind string) string { return b.opts.Prefix + scope + ":" + kind }

func (b *redisBackend) take(ctx context.Context, rules []Rule, est []float64) (ticket, error) {
	if b.down.Load() && time.Now().UnixNano() < b.retryAt.Load() {
		return b.fallback.take(ctx, b.share(rules), est)
	}
	id := leaseID()
	keys := make([]string, 0, 3*len(rules))
	args := make([]any, 2, 2+6*len(rules))
	args[0], args[1] = id, b.opts.Lease.Milliseconds()
	var slots []string
	for i, r := range rules {
		keys = append(keys, b.key(r.Scope, "rpm"), b.key(r.Scope, "tpm"), b.key(r.Scope, "conc"))
		var ri, rtau, ti, ttau float64
		if r.RequestsPerMinute > 0 {
			ri, rtau = rateParams(r.RequestsPerMinute)
		}
		if r.TokensPerMinute > 0 {
			ti, ttau = rateParams(r.TokensPerMinute)
		}
		args = append(args, ftoa(ri), ftoa(rtau), ftoa(ti), ftoa(ttau), ftoa(est[i]), r.MaxConcurrent)
		if r.MaxConcurrent > 0 {
			slots = append(slots, b.key(r.Scope, "conc"))
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.Timeout)
	res, err := takeScript.Run(rctx, b.rdb, keys, args...).Int64Slice()
	cancel()
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err() // the client went away; Redis may be fine
		}
		// Also when ctx's (queue) deadline passed while Redis did not
		// answer: the call is decided by the share, not failed.
		b.markDown(err)
		return b.fallback.take(ctx, b.share(rules), est)
	}
	b.markUp()
	if len(res) != 3 {
		return nil, fmt.Errorf("limits: unexpected answer from the Redis script: %v", res)
	}
	if res[0] != 0 {
		r := rules[res[0]-1]
		d := &Denied{Scope: r.Scope, RetryAfter: millis(float64(res[2]))}
		switch res[1] {
		case 1:
			d.Limit = LimitRequests
		case 2:
			d.Limit = LimitTokens
		default:
			d.Limit, d.RetryAfter = LimitConcurrent, concurrencyRetry
		}
		return nil, d
	}
	t := &redisTicket{b: b, id: id, slots: slots}
	if len(slots) > 0 {
		b.mu.Lock()
		b.held[id] = slots
		b.mu.Unlock()
	}
	return t, nil
}

// share is rules as one replica's share of them, for when Redis cannot be
// reached.
func (b *redisBackend) share(rules []Rule) []Rule {
	n := b.opts.Replicas
	if n == 1 {
		return rules
	}
	part := func(v int) int {
		if v <= 0 {
			return v
		}
		return max(1, v/n)
	}
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = Rule{Scope: r.Scope, RequestsPerMinute: part(r.RequestsPerMinute), TokensPerMinute: part(r.TokensPerMinute), MaxConcurrent: part(r.MaxConcurrent)}
	}
	return out
}

func (b *redisBackend) markDown(err error) {
	b.retryAt.Store(time.Now().Add(redisRetry).UnixNano())
	if !b.down.Swap(true) {
		b.log.Warn("limits: Redis unreachable; each replica now allows its share of every limit (limit / replicas) until it returns",
			"replicas", b.opts.Replicas, "error", err.Error())
	}
}

func (b *redisBackend) markUp() {
	if b.down.Swap(false) {
		b.log.Info("limits: Redis reachable again; limits are shared again")
	}
}

// renew extends the leases of the slots this replica holds, a few times per
// lease, so that only a replica that died loses them.
func (b *redisBackend) renew() {
	defer close(b.done)
	tick := time.NewTicker(b.opts.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		b.mu.Lock()
		leases := make(map[string][]string, len(b.held))
		for id, keys := range b.held {
			leases[id] = keys
		}
		b.mu.Unlock()
		if len(leases) == 0 || b.down.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.Lease/3)
		pipe := b.rdb.Pipeline()
		for id, keys := range leases {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT.
			renewScript.Eval(ctx, pipe, keys, id, b.opts.Lease.Milliseconds())
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.log.Debug("limits: renewing concurrency leases failed", "error", err.Error())
		}
		cancel()
	}
}

func (b *redisBackend) close() error {
	close(b.stop)
	<-b.done
	return b.rdb.Close()
}

type redisTicket struct {
	b     *redisBackend
	id    string
	slots []string
	once  sync.Once
}

// release removes the lease off the request's path: the answer does not
// wait for Redis, and a lease that cannot be removed expires.
func (t *redisTicket) release() {
	if len(t.slots) == 0 {
		return
	}
	t.once.Do(func() {
		t.b.mu.Lock()
		delete(t.b.held, t.id)
		t.b.mu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), t.b.opts.Timeout)
			defer cancel()
			pipe := t.b.rdb.Pipeline()
			for _, k := range t.slots {
				pipe.ZRem(ctx, k, t.id)
			}
			pipe.Exec(ctx) //nolint:errcheck // the lease expires anyway
		}()
	})
}

func (t *redisTicket) addTokens(rules []Rule, delta []float64) {
	var keys []string
	var args []any
	for i, r := range rules {
		if r.TokensPerMinute > 0 && delta[i] != 0 {
			ti, _ := rateParams(r.TokensPerMinute)
			keys = append(keys, t.b.key(r.Scope, "tpm"))
			args = append(args, ftoa(delta[i]), ftoa(ti))
		}
	}
	if len(keys) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), t.b.opts.Timeout)
		defer cancel()
		if err := tokensScript.Run(ctx, t.b.rdb, keys, args...).Err(); err != nil {
			t.b.log.Debug("limits: recording tokens in Redis failed", "error", err.Error())
		}
	}()
}

// quietRedis routes go-redis's own log lines (one per failed dial, on
// stderr) to the first Limiter's logger at Debug: the fallback is logged
// once, as such. go-redis has one logger per process.
var quietRedis sync.Once

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

func leaseID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ftoa(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', 3, 64)
}
