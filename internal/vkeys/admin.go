package vkeys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarry-dev/quarry/internal/clip"
	"github.com/quarry-dev/quarry/internal/reqbody"
	"github.com/quarry-dev/quarry/internal/store"
)

// Admin serves /admin/keys: POST creates a key (its secret is in that
// answer only), GET lists them, GET /{id} reads one, PATCH /{id} changes
// its settings, DELETE /{id} revokes it. Put it behind auth.Admin.
type Admin struct {
	st    *store.VirtualKeys
	cache *Cache
	log   *slog.Logger
	mux   *http.ServeMux
	now   func() time.Time
}

// NewAdmin serves st's keys; cache is refreshed after each write.
func NewAdmin(st *store.VirtualKeys, cache *Cache, log *slog.Logger) *Admin {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Admin{st: st, cache: cache, log: log.With("component", "virtual_keys"), mux: http.NewServeMux(), now: time.Now}
	a.mux.HandleFunc("POST /admin/keys", a.create)
	a.mux.HandleFunc("GET /admin/keys", a.list)
	a.mux.HandleFunc("GET /admin/keys/{id}", a.get)
	a.mux.HandleFunc("PATCH /admin/keys/{id}", a.update)
	a.mux.HandleFunc("DELETE /admin/keys/{id}", a.revoke)
	a.mux.HandleFunc("/admin/keys", a.methodNotAllowed("GET, POST"))
	a.mux.HandleFunc("/admin/keys/{id}", a.methodNotAllowed("GET, PATCH, DELETE"))
	a.mux.HandleFunc("/admin/keys/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "", "Unknown admin URL "+r.URL.Path+": keys are at /admin/keys and /admin/keys/{id}.")
	})
	return a
}

func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func (a *Admin) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "", r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+allow+".")
	}
}

// view is a key as the API shows it: never its secret.
type view struct {
	ID           string            `json:"id"`
	Object       string            `json:"object"`
	Name         string            `json:"name"`
	Prefix       string            `json:"prefix"`
	Owner        string            `json:"owner,omitempty"`
	Team         string            `json:"team,omitempty"`
	Labels       map[string]string `json:"labels"`
	Models       []string          `json:"models"`
	RPM          int64             `json:"rpm"`
	TPM          int64             `json:"tpm"`
	BudgetUSD    float64           `json:"budget_usd"`
	BudgetPeriod string            `json:"budget_period,omitempty"`
	ExpiresAt    *time.Time        `json:"expires_at"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
	RevokedAt    *time.Time        `json:"revoked_at"`
	Status       string            `json:"status"` // active, expired, revoked
	// Key is the secret, in the answer to the creation only.
	Key string `json:"key,omitempty"`
}

func (a *Admin) view(k *store.VirtualKey) view {
	v := view{ID: k.ID, Object: "virtual_key", Name: k.Name, Prefix: k.Prefix + "…", Owner: k.Owner, Team: k.Team,
		Labels: k.Labels, Models: k.Models, RPM: k.RPM, TPM: k.TPM, BudgetUSD: k.BudgetUSD, BudgetPeriod: k.BudgetPeriod,
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt, Status: "active"}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if v.Models == nil {
		v.Models = []string{}
	}
	if !k.ExpiresAt.IsZero() {
		v.ExpiresAt = &k.ExpiresAt
		if !a.now().Before(k.ExpiresAt) {
			v.Status = "expired"
		}
	}
	if !k.RevokedAt.IsZero() {
		v.RevokedAt, v.Status = &k.RevokedAt, "revoked"
	}
	return v
}

func (a *Admin) create(w http.ResponseWriter, r *http.Request) {
	fields, e := readObject(r)
	if e != nil {
		e.write(w)
		return
	}
	k := &store.VirtualKey{}
	if e := a.apply(k, fields, true); e != nil {
		e.write(w)
		return
	}
	secret, hash, prefix := newSecret()
	k.ID, k.Hash, k.Prefix = newID(), hash, prefix
	if err := a.st.Create(r.Context(), k); err != nil {
		a.storeFailed(w, "creating a virtual key", err)
		return
	}
	a.refresh(r.Context())
	a.log.Info("virtual key created", "key_id", k.ID, "name", k.Name, "prefix", k.Prefix)
	v := a.view(k)
	v.Key = secret
	writeJSON(w, http.StatusCreated, v)
}

func (a *Admin) list(w http.ResponseWriter, r *http.Request) {
	keys, err := a.st.List(r.Context())
	if err != nil {
		a.storeFailed(w, "listing the virtual keys", err)
		return
	}
	data := make([]view, 0, len(keys))
	for _, k := range keys {
		data = append(data, a.view(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func (a *Admin) get(w http.ResponseWriter, r *http.Request) {
	k, ok := a.lookup(w, r)
	if ok {
		writeJSON(w, http.StatusOK, a.view(k))
	}
}

func (a *Admin) update(w http.ResponseWriter, r *http.Request) {
	fields, e := readObject(r)
	if e != nil {
		e.write(w)
		return
	}
	k, ok := a.lookup(w, r)
	if !ok {
		return
	}
	if e := a.apply(k, fields, false); e != nil {
		e.write(w)
		return
	}
	if err := a.st.Update(r.Context(), k); err != nil {
		a.storeFailed(w, "updating a virtual key", err)
		return
	}
	a.refresh(r.Context())
	a.log.Info("virtual key updated", "key_id", k.ID, "fields", sortedNames(fields))
	writeJSON(w, http.StatusOK, a.view(k))
}

func (a *Admin) revoke(w http.ResponseWriter, r *http.Request) {
	k, err := a.st.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeFailed(w, "revoking a virtual key", err)
		return
	}
	a.refresh(r.Context())
	writeJSON(w, http.StatusOK, a.view(k))
}

func (a *Admin) lookup(w http.ResponseWriter, r *http.Request) (*store.VirtualKey, bool) {
	k, err := a.st.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.storeFailed(w, "reading a virtual key", err)
		return nil, false
	}
	return k, true
}

// refresh makes this replica's cache see its own write now; the others
// see it at their next poll.
func (a *Admin) refresh(ctx context.Context) {
	if err := a.cache.Refresh(ctx); err != nil {
		a.log.Warn("reloading the virtual keys after a write", "error", err)
	}
}

func (a *Admin) storeFailed(w http.ResponseWriter, doing string, err error) {
	if errors.Is(err, store.ErrKeyNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "id", "No virtual key has this ID (GET /admin/keys lists them).")
		return
	}
	a.log.Error(doing, "error", err)
	writeError(w, http.StatusInternalServerError, "api_error", "", "The key store failed while "+doing+"; see the gateway's log.")
}

// apiError is an answer in the admin API's format (OpenAI's error shape,
// as the rest of the gateway's own routes).
type apiError struct {
	status          int
	typ, param, msg string
}

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.status, e.typ, e.param, e.msg) }

func invalid(param, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request_error", param, fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, status int, typ, param, msg string) {
	var p any
	if param != "" {
		p = param
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": p}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // a creation's answer holds a secret
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readObject reads the body as a JSON object, member by member.
func readObject(r *http.Request) (map[string]json.RawMessage, *apiError) {
	body, rerr := reqbody.Read(r)
	if rerr != nil {
		return nil, &apiError{rerr.Status, "invalid_request_error", rerr.Param, rerr.Msg}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, invalid("", "The body must be a JSON object of the key's settings (name, owner, team, labels, models, rpm, tpm, budget_usd, budget_period, expires_at).")
	}
	return m, nil
}

func sortedNames(m map[string]json.RawMessage) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Bounds on what a key's settings may hold.
const (
	maxText     = 128
	maxModels   = 100
	maxPattern  = 256
	maxLabels   = 32
	maxLabelKey = 64
	maxLabelVal = 256
)

// apply sets the fields of a creation (create) or an update on k: a
// member present replaces the setting, null clears it. Checks every rule,
// and names the field and the rule that a value breaks.
func (a *Admin) apply(k *store.VirtualKey, fields map[string]json.RawMessage, create bool) *apiError {
	for _, name := range sortedNames(fields) {
		raw := fields[name]
		null := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
		var e *apiError
		switch name {
		case "name":
			e = text(raw, name, &k.Name)
		case "owner":
			e = text(raw, name, &k.Owner)
		case "team":
			e = text(raw, name, &k.Team)
		case "labels":
			e = labels(raw, null, &k.Labels)
		case "models":
			e = models(raw, null, &k.Models)
		case "rpm":
			e = count(raw, null, name, &k.RPM)
		case "tpm":
			e = count(raw, null, name, &k.TPM)
		case "budget_usd":
			e = budget(raw, null, &k.BudgetUSD)
		case "budget_period":
			k.BudgetPeriod = ""
			if !null && (json.Unmarshal(raw, &k.BudgetPeriod) != nil || (k.BudgetPeriod != PeriodDay && k.BudgetPeriod != PeriodMonth)) {
				e = invalid(name, "'budget_period' must be \"day\" or \"month\" (UTC).")
			}
		case "expires_at":
			e = a.expiry(raw, null, create, &k.ExpiresAt)
		case "id", "key", "prefix", "object", "created_at", "updated_at", "revoked_at", "status":
			e = invalid(name, "'%s' is set by the gateway and cannot be given (a key is revoked with DELETE /admin/keys/{id}).", name)
		default:
			e = invalid(name, "Unknown field '%s': a key's settings are name, owner, team, labels, models, rpm, tpm, budget_usd, budget_period and expires_at.", clip.String(name, 64, "…"))
		}
		if e != nil {
			return e
		}
	}
	if k.Name == "" {
		return invalid("name", "'name' is required: a non-empty string of at most %d characters.", maxText)
	}
	if k.BudgetUSD > 0 && k.BudgetPeriod == "" {
		k.BudgetPeriod = PeriodMonth
	}
	return nil
}

// text reads a string setting; null clears it.
func text(raw json.RawMessage, name string, dst *string) *apiError {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return invalid(name, "'%s' must be a string.", name)
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxText || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return invalid(name, "'%s' must be at most %d characters, with no control characters.", name, maxText)
	}
	*dst = s
	return nil
}

func labels(raw json.RawMessage, null bool, dst *map[string]string) *apiError {
	if null {
		*dst = nil
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		return invalid("labels", "'labels' must be an object of strings, e.g. {\"env\": \"prod\"}.")
	}
	if len(m) > maxLabels {
		return invalid("labels", "'labels' may hold at most %d labels.", maxLabels)
	}
	for k, v := range m {
		if k == "" || len(k) > maxLabelKey || len(v) > maxLabelVal {
			return invalid("labels", "A label's name must be 1 to %d bytes and its value at most %d bytes.", maxLabelKey, maxLabelVal)
		}
	}
	*dst = m
	return nil
}

func models(raw json.RawMessage, null bool, dst *[]string) *apiError {
	if null {
		*dst = nil
		return nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return invalid("models", "'models' must be an array of model names or glob patterns ('*' any characters, '?' one), e.g. [\"nova-*\", \"titan-embed\"]; empty or null allows every model.")
	}
	if len(list) > maxModels {
		return invalid("models", "'models' may hold at most %d names or patterns.", maxModels)
	}
	for i, p := range list {
		if strings.TrimSpace(p) == "" || len(p) > maxPattern {
			return invalid("models", "'models[%d]' must be a non-empty name or pattern of at most %d bytes.", i, maxPattern)
		}
	}
	*dst = list
	return nil
}

func count(raw json.RawMessage, null bool, name string, dst *int64) *apiError {
	*dst = 0
	if null {
		return nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n > 1<<40 {
		return invalid(name, "'%s' must be a whole number from 0 (no limit) to %d.", name, int64(1)<<40)
	}
	*dst = n
	return nil
}

func budget(raw json.RawMessage, null bool, dst *float64) *apiError {
	*dst = 0
	if null {
		return nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e12 {
		return invalid("budget_usd", "'budget_usd' must be a number of US dollars from 0 (no budget) to 1e12.")
	}
	*dst = f
	return nil
}

func (a *Admin) expiry(raw json.RawMessage, null, create bool, dst *time.Time) *apiError {
	*dst = time.Time{}
	if null {
		return nil
	}
	var s string
	t, err := time.Time{}, json.Unmarshal(raw, &s)
	if err == nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return invalid("expires_at", "'expires_at' must be an RFC 3339 time, e.g. \"2027-01-31T00:00:00Z\", or null for none.")
	}
	if create && !t.After(a.now()) {
		return invalid("expires_at", "'expires_at' must be in the future.")
	}
	*dst = t.UTC()
	return nil
}
