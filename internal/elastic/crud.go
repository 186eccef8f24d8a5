package elastic

import (
	"context"
	"errors"
	"net/http"

	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
	"github.com/quarry-dev/quarry/internal/store"
)

// embeddingProbe is what Elasticsearch embeds at creation to learn the
// dimensions (ServiceUtils.getEmbeddingSize).
const embeddingProbe = "how big"

// create serves PUT /_inference/[task_type/]id.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, urlTask, id string) {
	ctx := r.Context()
	body, e := readBody(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	s, creds, e := parseCreate(id, urlTask, body)
	if e != nil {
		writeError(w, r, e)
		return
	}
	// Checked before the probe call, to spare Bedrock a call; the store
	// decides for real below.
	if _, err := h.st.Get(ctx, id); err == nil {
		accesslog.From(ctx).SetModel(id)
		writeError(w, r, alreadyExists(id))
		return
	} else if !errors.Is(err, store.ErrNotFound) {
		h.log.Error("reading inference endpoint", "inference_id", id, "error", err)
		writeError(w, r, storeErr(id, err))
		return
	}
	client, err := h.client(ctx, s, creds)
	if err != nil {
		writeError(w, r, clientErr(err))
		return
	}
	ep := &endpoint{s: s, client: client}
	accesslog.From(ctx).SetBedrockModel(s.Model, s.Region) // the probe below is billed
	if s.TaskType == taskTextEmbedding {
		// The dimensions come from the model itself, as Elasticsearch
		// learns them: embed a short text and count.
		pctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
		vecs, err := h.embed(pctx, ep, []string{embeddingProbe}, "ingest", s.Task)
		cancel()
		if err != nil {
			writeError(w, r, upstreamErr(err))
			return
		}
		if len(vecs) == 0 || len(vecs[0]) == 0 {
			writeError(w, r, badRequest("Could not determine embedding size"))
			return
		}
		s.Dimensions = len(vecs[0])
		if s.Similarity == "" {
			s.Similarity = defaultSimilarity(s.Provider)
		}
	}
	se, err := toStore(s, creds)
	if err != nil {
		writeError(w, r, storeErr(id, err))
		return
	}
	h.writeMu.Lock()
	err = h.st.Create(ctx, se)
	if err == nil {
		accesslog.From(ctx).SetModel(id)
		ep.version = se.Version
		h.publish(id, ep, true)
	}
	h.writeMu.Unlock()
	if err != nil {
		if !errors.Is(err, store.ErrExists) {
			h.log.Error("storing inference endpoint", "inference_id", id, "error", err)
		}
		writeError(w, r, storeErr(id, err))
		return
	}
	h.log.Info("inference endpoint created", "inference_id", id, "task_type", s.TaskType,
		"provider", s.Provider, "model", s.Model, "region", s.Region)
	writeJSON(w, http.StatusOK, s.view())
}

// clientErr maps a client that cannot be built (a bad region, say) to a
// 400: the settings the user gave are at fault.
func clientErr(err error) *Error {
	var ce *bedrock.ConfigError
	if errors.As(err, &ce) {
		return badRequest("Invalid Amazon Bedrock settings: %s", ce.Rule+" ("+ce.Field+")")
	}
	return upstreamErr(err)
}

// get serves GET /_inference[/task_type]/id, where id may be _all or *.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, task, id string) {
	ctx := r.Context()
	views := []view{}
	if id == "_all" || id == "*" || id == "" {
		all, err := h.st.List(ctx)
		if err != nil {
			h.log.Error("listing inference endpoints", "error", err)
			writeError(w, r, storeErr("_all", err))
			return
		}
		for _, e := range all {
			s, _, err := fromStore(e)
			if err != nil {
				h.log.Error("inference endpoint cannot be read", "inference_id", e.ID, "error", err)
				continue
			}
			if task == "" || s.TaskType == task {
				views = append(views, s.view())
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"endpoints": views})
		return
	}
	s, e := h.read(ctx, id)
	if e != nil {
		writeError(w, r, e)
		return
	}
	if task != "" && task != s.TaskType {
		writeError(w, r, mismatchedTask(task, s.TaskType))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": append(views, s.view())})
}

// read returns the stored settings of id.
func (h *Handler) read(ctx context.Context, id string) (*Settings, *Error) {
	e, err := h.st.Get(ctx, id)
	if err != nil {
		return nil, storeErr(id, err)
	}
	s, _, err := fromStore(e)
	if err != nil {
		h.log.Error("inference endpoint cannot be read", "inference_id", id, "error", err)
		return nil, storedGarbage(id)
	}
	return s, nil
}

// deleteAnswer is DeleteInferenceEndpointAction.Response: no ingest
// pipeline or semantic_text index can reference a Quarry endpoint, so the
// lists are always empty.
type deleteAnswer struct {
	Acknowledged bool     `json:"acknowledged"`
	Pipelines    []string `json:"pipelines"`
	Indexes      []string `json:"indexes"`
}

// delete serves DELETE /_inference[/task_type]/id (?dry_run, ?force).
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, task, id string) {
	ctx := r.Context()
	dryRun, e := boolParam(r, "dry_run")
	if e == nil {
		// force skips the reference checks, which never find anything
		// here; it is parsed so that a malformed value is refused.
		_, e = boolParam(r, "force")
	}
	if e != nil {
		writeError(w, r, e)
		return
	}
	s, e := h.read(ctx, id)
	if e != nil && e.Status != http.StatusInternalServerError {
		writeError(w, r, e)
		return
	}
	if s != nil {
		accesslog.From(ctx).SetModel(id)
	}
	if s != nil && task != "" && task != s.TaskType {
		writeError(w, r, mismatchedTask(task, s.TaskType))
		return
	}
	if dryRun {
		writeJSON(w, http.StatusOK, deleteAnswer{Acknowledged: false, Pipelines: []string{}, Indexes: []string{}})
		return
	}
	// An endpoint whose stored settings cannot be read can still be
	// deleted: that is the advice its error gives.
	h.writeMu.Lock()
	err := h.st.Delete(ctx, id)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		h.publish(id, nil, true)
	}
	h.writeMu.Unlock()
	if err != nil {
		writeError(w, r, storeErr(id, err))
		return
	}
	h.log.Info("inference endpoint deleted", "inference_id", id)
	// The endpoint's series are gone with it (Options.Deleted): the delete
	// itself is not labelled with its ID, or it would bring one back.
	accesslog.From(ctx).SetModel("")
	writeJSON(w, http.StatusOK, deleteAnswer{Acknowledged: true, Pipelines: []string{}, Indexes: []string{}})
}

// update serves PUT /_inference[/task_type]/id/_update: new task settings,
// rate limit or keys. The endpoint gets a new client; requests in flight
// finish on the old one.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, task, id string) {
	ctx := r.Context()
	if e := checkID(id); e != nil {
		writeError(w, r, e)
		return
	}
	body, e := readBody(r)
	if e != nil {
		writeError(w, r, e)
		return
	}
	// The body is checked before the endpoint is read, as Elasticsearch
	// does: a bad request for a missing endpoint is a 400, not a 404.
	ub, e := parseUpdateBody(task, body)
	if e != nil {
		writeError(w, r, e)
		return
	}
	// Optimistic: re-read and retry when another writer got in between.
	for attempt := 0; ; attempt++ {
		cur, err := h.st.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, r, &Error{Status: http.StatusNotFound, Type: "resource_not_found_exception",
				Reason: "The inference endpoint [" + id + "] does not exist and cannot be updated"})
			return
		}
		if err != nil {
			writeError(w, r, storeErr(id, err))
			return
		}
		accesslog.From(ctx).SetModel(id)
		s, creds, err := fromStore(cur)
		if err != nil {
			writeError(w, r, storedGarbage(id))
			return
		}
		u, e := parseUpdate(s, ub)
		if e != nil {
			writeError(w, r, e)
			return
		}
		next := u.apply(s)
		if u.Creds != nil {
			creds = *u.Creds
		}
		client, err := h.client(ctx, next, creds)
		if err != nil {
			writeError(w, r, clientErr(err))
			return
		}
		se, err := toStore(next, creds)
		if err != nil {
			writeError(w, r, storeErr(id, err))
			return
		}
		h.writeMu.Lock()
		err = h.st.Update(ctx, se, cur.Version)
		if err == nil {
			h.publish(id, &endpoint{s: next, client: client, version: se.Version}, true)
		}
		h.writeMu.Unlock()
		switch {
		case err == nil:
			h.log.Info("inference endpoint updated", "inference_id", id, "keys_changed", u.Creds != nil)
			writeJSON(w, http.StatusOK, next.view())
			return
		case errors.Is(err, store.ErrConflict) && attempt < 3:
			continue
		case errors.Is(err, store.ErrConflict):
			writeError(w, r, &Error{Status: http.StatusConflict, Type: "version_conflict_engine_exception",
				Reason: "[" + id + "]: version conflict, the inference endpoint was changed concurrently"})
			return
		default:
			if !errors.Is(err, store.ErrNotFound) {
				h.log.Error("updating inference endpoint", "inference_id", id, "error", err)
			}
			writeError(w, r, storeErr(id, err))
			return
		}
	}
}
