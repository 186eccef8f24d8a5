package elastic

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/quarry-dev/quarry/internal/store"
)

// storedService is service_settings as kept in the store: the non-secret
// settings only (the keys go to store.Endpoint.Secrets, encrypted).
type storedService struct {
	Region         string    `json:"region"`
	Model          string    `json:"model"`
	Provider       string    `json:"provider"`
	RateLimit      rateLimit `json:"rate_limit"`
	Dimensions     int       `json:"dimensions,omitempty"`
	MaxInputTokens int       `json:"max_input_tokens,omitempty"`
	Similarity     string    `json:"similarity,omitempty"`
}

type rateLimit struct {
	RequestsPerMinute int64 `json:"requests_per_minute"`
}

// view is an endpoint as GET and PUT show it (ModelConfigurations'
// filtered XContent): field order and names as Elasticsearch's, no secrets.
type view struct {
	InferenceID     string        `json:"inference_id"`
	TaskType        string        `json:"task_type"`
	Service         string        `json:"service"`
	ServiceSettings storedService `json:"service_settings"`
	TaskSettings    TaskSettings  `json:"task_settings"`
	Chunking        *Chunking     `json:"chunking_settings,omitempty"`
}

func (s *Settings) service() storedService {
	return storedService{
		Region: s.Region, Model: s.Model, Provider: s.Provider,
		RateLimit:  rateLimit{s.RequestsPerMinute},
		Dimensions: s.Dimensions, MaxInputTokens: s.MaxInputTokens, Similarity: s.Similarity,
	}
}

// view renders s as Elasticsearch does; the provider shows as its enum
// name (AMAZONTITAN), as AmazonBedrockServiceSettings writes it.
func (s *Settings) view() view {
	ss := s.service()
	ss.Provider = strings.ToUpper(ss.Provider)
	return view{InferenceID: s.ID, TaskType: s.TaskType, Service: serviceName, ServiceSettings: ss, TaskSettings: s.Task,
		Chunking: s.Chunking}
}

// toStore is the stored form of an endpoint.
func toStore(s *Settings, c Credentials) (*store.Endpoint, error) {
	ss, err := json.Marshal(s.service())
	if err != nil {
		return nil, err
	}
	ts, err := json.Marshal(s.Task)
	if err != nil {
		return nil, err
	}
	cs, err := chunkingJSON(s.Chunking)
	if err != nil {
		return nil, err
	}
	return &store.Endpoint{
		ID: s.ID, TaskType: s.TaskType, Service: serviceName,
		ServiceSettings: ss, TaskSettings: ts, ChunkingSettings: cs,
		Secrets: store.Secrets{secretAccessKey: c.AccessKey, secretSecretKey: c.SecretKey},
	}, nil
}

// fromStore reads a stored endpoint back. It is lenient with fields it
// does not know (a newer Quarry may have written them) but not with a
// service or task type it cannot serve.
func fromStore(e *store.Endpoint) (*Settings, Credentials, error) {
	var c Credentials
	if !slices.Contains(servedTasks, e.TaskType) {
		return nil, c, fmt.Errorf("endpoint %q: task type %q is not served", e.ID, e.TaskType)
	}
	if e.Service != serviceName {
		return nil, c, fmt.Errorf("endpoint %q: unknown service %q", e.ID, e.Service)
	}
	var ss storedService
	if len(e.ServiceSettings) > 0 {
		if err := json.Unmarshal(e.ServiceSettings, &ss); err != nil {
			return nil, c, fmt.Errorf("endpoint %q: service_settings: %w", e.ID, err)
		}
	}
	var ts TaskSettings
	if len(e.TaskSettings) > 0 {
		if err := json.Unmarshal(e.TaskSettings, &ts); err != nil {
			return nil, c, fmt.Errorf("endpoint %q: task_settings: %w", e.ID, err)
		}
	}
	s := &Settings{
		ID: e.ID, TaskType: e.TaskType, Region: ss.Region, Model: ss.Model, Provider: ss.Provider,
		RequestsPerMinute: ss.RateLimit.RequestsPerMinute, Dimensions: ss.Dimensions,
		MaxInputTokens: ss.MaxInputTokens, Similarity: ss.Similarity, Task: ts,
	}
	if s.RequestsPerMinute <= 0 {
		s.RequestsPerMinute = defaultRequestsPerMinute
	}
	if s.TaskType == taskTextEmbedding {
		// Stored before chunking settings were kept (schema version 1):
		// read as Elasticsearch reads an endpoint stored before they
		// existed, ChunkingSettingsBuilder.fromMap(null).
		s.Chunking = oldDefaultChunking()
		if len(e.ChunkingSettings) > 0 {
			var c Chunking
			if err := json.Unmarshal(e.ChunkingSettings, &c); err != nil {
				return nil, Credentials{}, fmt.Errorf("endpoint %q: chunking_settings: %w", e.ID, err)
			}
			s.Chunking = &c
		}
	}
	if e := checkProviderTask(s.TaskType, s.Provider); e != nil {
		return nil, c, fmt.Errorf("endpoint %q: %s", s.ID, e.Reason)
	}
	c.AccessKey, c.SecretKey = e.Secrets[secretAccessKey], e.Secrets[secretSecretKey]
	return s, c, nil
}
