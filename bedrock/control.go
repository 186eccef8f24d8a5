package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// FoundationModel is one entry of ListFoundationModels.
type FoundationModel struct {
	ModelID                    string   `json:"modelId"`
	ModelArn                   string   `json:"modelArn,omitempty"`
	ModelName                  string   `json:"modelName,omitempty"`
	ProviderName               string   `json:"providerName,omitempty"`
	InputModalities            []string `json:"inputModalities,omitempty"`
	OutputModalities           []string `json:"outputModalities,omitempty"`
	InferenceTypesSupported    []string `json:"inferenceTypesSupported,omitempty"`
	ResponseStreamingSupported bool     `json:"responseStreamingSupported,omitempty"`
	ModelLifecycle             *struct {
		Status string `json:"status"`
	} `json:"modelLifecycle,omitempty"`
}

// InferenceProfile is one entry of ListInferenceProfiles.
type InferenceProfile struct {
	InferenceProfileID   string `json:"inferenceProfileId"`
	InferenceProfileName string `json:"inferenceProfileName,omitempty"`
	InferenceProfileArn  string `json:"inferenceProfileArn,omitempty"`
	Status               string `json:"status,omitempty"`
	Type                 string `json:"type,omitempty"` // SYSTEM_DEFINED, APPLICATION
	Models               []struct {
		ModelArn string `json:"modelArn"`
	} `json:"models,omitempty"`
}

// ListFoundationModels lists the foundation models of the client's region
// (Bedrock's control plane, GET /foundation-models).
func (c *Client) ListFoundationModels(ctx context.Context) ([]FoundationModel, error) {
	var out struct {
		ModelSummaries []FoundationModel `json:"modelSummaries"`
	}
	if err := c.control(ctx, "ListFoundationModels", "/foundation-models", nil, &out); err != nil {
		return nil, err
	}
	return out.ModelSummaries, nil
}

// ListInferenceProfiles lists the inference profiles of the client's
// region, every page.
func (c *Client) ListInferenceProfiles(ctx context.Context) ([]InferenceProfile, error) {
	var all []InferenceProfile
	token := ""
	for page := 0; page < 100; page++ {
		q := url.Values{"maxResults": {"1000"}}
		if token != "" {
			q.Set("nextToken", token)
		}
		var out struct {
			Summaries []InferenceProfile `json:"inferenceProfileSummaries"`
			NextToken string             `json:"nextToken"`
		}
		if err := c.control(ctx, "ListInferenceProfiles", "/inference-profiles", q, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Summaries...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	return all, nil
}

// controlHost is the control plane's host: bedrock.<region>… beside the
// default runtime endpoint, or the configured endpoint itself (a proxy or
// the emulator answers both planes).
func (c *Client) controlHost() string {
	if h, ok := strings.CutPrefix(c.host, "bedrock-runtime."); ok {
		return "bedrock." + h
	}
	if h, ok := strings.CutPrefix(c.host, "bedrock-runtime-fips."); ok {
		return "bedrock-fips." + h
	}
	return c.host
}

// emptyPayloadHash is SHA-256 of an empty body (every GET).
var emptyPayloadHash = func() string { s := sha256.Sum256(nil); return hex.EncodeToString(s[:]) }()

// control sends one control-plane GET, signed for service "bedrock" like
// the runtime, and decodes the JSON answer into out. It is not rate
// limited: listing is rare and has its own quotas.
func (c *Client) control(ctx context.Context, op, path string, q url.Values, out any) error {
	u := url.URL{Scheme: c.scheme, Host: c.controlHost(), Path: c.basePath + path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return &OpError{op, err}
	}
	req.Header.Set("Accept", "application/json")
	if c.signer == nil {
		req.Header.Set("Authorization", c.bearer)
	} else {
		creds, err := c.auth.retrieve(ctx)
		if err != nil {
			return &OpError{op, err}
		}
		if err := c.signer.SignHTTP(ctx, creds, req, emptyPayloadHash, "bedrock", c.region, time.Now()); err != nil {
			return &OpError{op, fmt.Errorf("signing: %w", err)}
		}
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.httpc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &OpError{op, ctx.Err()}
		}
		return &OpError{op, &transportError{err}}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &OpError{op, err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &OpError{op, parseError(resp, body)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &OpError{op, fmt.Errorf("decoding response: %w", err)}
	}
	return nil
}
