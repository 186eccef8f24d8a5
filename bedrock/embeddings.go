package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
)

// TitanEmbedRequest is the body of Amazon Titan Embeddings: Text v1
// (InputText only), Text v2 (Dimensions 256|512|1024, Normalize,
// EmbeddingTypes "float"/"binary") and Multimodal G1 (InputImage,
// EmbeddingConfig).
type TitanEmbedRequest struct {
	InputText      string   `json:"inputText,omitempty"`
	Dimensions     int      `json:"dimensions,omitempty"`
	Normalize      *bool    `json:"normalize,omitempty"`
	EmbeddingTypes []string `json:"embeddingTypes,omitempty"`
	// InputImage is a base64 image (titan-embed-image-v1).
	InputImage      string                `json:"inputImage,omitempty"`
	EmbeddingConfig *TitanEmbeddingConfig `json:"embeddingConfig,omitempty"`
}

// TitanEmbeddingConfig sets the multimodal output length (256, 384, 1024).
type TitanEmbeddingConfig struct {
	OutputEmbeddingLength int `json:"outputEmbeddingLength"`
}

// TitanEmbedResponse is the Titan Embeddings response. Embedding is always
// the float vector; v2 adds EmbeddingsByType with what was asked for.
type TitanEmbedResponse struct {
	Embedding           []float64              `json:"embedding"`
	InputTextTokenCount int                    `json:"inputTextTokenCount"`
	EmbeddingsByType    *TitanEmbeddingsByType `json:"embeddingsByType,omitempty"`
	Message             string                 `json:"message,omitempty"` // multimodal: set on a partial failure

	InvokeMetadata `json:"-"`
}

// TitanEmbeddingsByType holds the vectors of each requested type; Binary
// elements are 0 or 1.
type TitanEmbeddingsByType struct {
	Float  []float64 `json:"float,omitempty"`
	Binary []int     `json:"binary,omitempty"`
}

func (r *TitanEmbedResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// EmbedTitan embeds one text (or image) with a Titan Embeddings model.
// Titan takes one input per call.
func (c *Client) EmbedTitan(ctx context.Context, modelID string, req *TitanEmbedRequest, opts ...CallOption) (*TitanEmbedResponse, error) {
	return invokeJSON[TitanEmbedRequest, TitanEmbedResponse](ctx, c, modelID, req, opts...)
}

// Cohere Embed input types (input_type).
const (
	CohereSearchDocument = "search_document"
	CohereSearchQuery    = "search_query"
	CohereClassification = "classification"
	CohereClustering     = "clustering"
	CohereImage          = "image"
)

// CohereEmbedRequest is the body of Cohere Embed v3 (embed-english-v3,
// embed-multilingual-v3) and v4 (embed-v4:0). Give Texts, Images (data
// URIs) or, v4 only, Inputs. The service does not report token usage in the
// body: read Metadata.InputTokenCount of the response.
type CohereEmbedRequest struct {
	Texts     []string           `json:"texts,omitempty"`
	Images    []string           `json:"images,omitempty"`
	Inputs    []CohereEmbedInput `json:"inputs,omitempty"`
	InputType string             `json:"input_type"`
	// Truncate: v3 NONE|START|END, v4 NONE|LEFT|RIGHT.
	Truncate string `json:"truncate,omitempty"`
	// EmbeddingTypes: float, int8, uint8, binary, ubinary. Setting it makes
	// the response "embeddings_by_type".
	EmbeddingTypes  []string `json:"embedding_types,omitempty"`
	OutputDimension int      `json:"output_dimension,omitempty"` // v4: 256, 512, 1024, 1536
	MaxTokens       int      `json:"max_tokens,omitempty"`       // v4
}

// CohereEmbedInput is one v4 mixed-content input.
type CohereEmbedInput struct {
	Content []CohereEmbedContent `json:"content"`
}

// CohereEmbedContent is {"type":"text","text"} or
// {"type":"image_url","image_url":{"url":"data:..."}}.
type CohereEmbedContent struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url,omitempty"`
}

// CohereEmbedResponse is the Cohere Embed response. ResponseType is
// "embeddings_floats" (Embeddings.Float only) or "embeddings_by_type".
type CohereEmbedResponse struct {
	ID           string           `json:"id"`
	ResponseType string           `json:"response_type"`
	Embeddings   CohereEmbeddings `json:"embeddings"`
	Texts        []string         `json:"texts,omitempty"`
	Images       json.RawMessage  `json:"images,omitempty"`
	Inputs       json.RawMessage  `json:"inputs,omitempty"`

	InvokeMetadata `json:"-"`
}

func (r *CohereEmbedResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// CohereEmbeddings holds Cohere's "embeddings" member, which is a list of
// float vectors for embeddings_floats and an object keyed by type for
// embeddings_by_type. ByType records which, so that it re-encodes as read.
type CohereEmbeddings struct {
	Float   [][]float64 `json:"float,omitempty"`
	Int8    [][]int     `json:"int8,omitempty"`
	Uint8   [][]int     `json:"uint8,omitempty"`
	Binary  [][]int     `json:"binary,omitempty"`
	Ubinary [][]int     `json:"ubinary,omitempty"`
	ByType  bool        `json:"-"`
}

func (e CohereEmbeddings) MarshalJSON() ([]byte, error) {
	if !e.ByType {
		if e.Float == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(e.Float)
	}
	type plain CohereEmbeddings
	return json.Marshal(plain(e))
}

func (e *CohereEmbeddings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*e = CohereEmbeddings{}
	switch {
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, &e.Float)
	case len(b) > 0 && b[0] == '{':
		type plain CohereEmbeddings
		var p plain
		if err := json.Unmarshal(b, &p); err != nil {
			return err
		}
		*e = CohereEmbeddings(p)
		e.ByType = true
		return nil
	case bytes.Equal(b, []byte("null")):
		return nil
	}
	return errors.New("cohere embeddings: want an array or an object")
}

// EmbedCohere embeds up to 96 texts (or one image) with a Cohere Embed
// model.
func (c *Client) EmbedCohere(ctx context.Context, modelID string, req *CohereEmbedRequest, opts ...CallOption) (*CohereEmbedResponse, error) {
	return invokeJSON[CohereEmbedRequest, CohereEmbedResponse](ctx, c, modelID, req, opts...)
}

// NovaEmbedSchemaVersion is the schemaVersion of Nova multimodal embeddings.
const NovaEmbedSchemaVersion = "nova-multimodal-embed-v1"

// NovaEmbedRequest is the synchronous body of Amazon Nova Multimodal
// Embeddings (amazon.nova-2-multimodal-embeddings-v1:0). TaskType must be
// "SINGLE_EMBEDDING" for InvokeModel.
type NovaEmbedRequest struct {
	SchemaVersion         string                 `json:"schemaVersion,omitempty"`
	TaskType              string                 `json:"taskType"`
	SingleEmbeddingParams *NovaEmbedSingleParams `json:"singleEmbeddingParams,omitempty"`
}

// NovaEmbedSingleParams: EmbeddingPurpose (GENERIC_INDEX, GENERIC_RETRIEVAL,
// TEXT_RETRIEVAL, ..., CLASSIFICATION, CLUSTERING), EmbeddingDimension
// (256, 384, 1024, 3072) and one input.
type NovaEmbedSingleParams struct {
	EmbeddingPurpose   string          `json:"embeddingPurpose"`
	EmbeddingDimension int             `json:"embeddingDimension,omitempty"`
	Text               *NovaEmbedText  `json:"text,omitempty"`
	Image              *NovaEmbedMedia `json:"image,omitempty"`
	Audio              *NovaEmbedMedia `json:"audio,omitempty"`
	Video              *NovaEmbedMedia `json:"video,omitempty"`
}

// NovaEmbedText is a text input: Value inline or Source in S3;
// TruncationMode START, END or NONE.
type NovaEmbedText struct {
	TruncationMode string           `json:"truncationMode,omitempty"`
	Value          string           `json:"value,omitempty"`
	Source         *NovaMediaSource `json:"source,omitempty"`
}

// NovaEmbedMedia is an image (DetailLevel STANDARD_IMAGE|DOCUMENT_IMAGE),
// audio or video (EmbeddingMode AUDIO_VIDEO_COMBINED|AUDIO_VIDEO_SEPARATE)
// input.
type NovaEmbedMedia struct {
	Format        string          `json:"format"`
	Source        NovaMediaSource `json:"source"`
	DetailLevel   string          `json:"detailLevel,omitempty"`
	EmbeddingMode string          `json:"embeddingMode,omitempty"`
}

// NovaEmbedResponse is the Nova multimodal embeddings response.
type NovaEmbedResponse struct {
	Embeddings []NovaEmbedding `json:"embeddings"`
	// InputTokenCount is the body's count; it hides the header's, which
	// is InvokeMetadata.InputTokenCount.
	InputTokenCount *int `json:"inputTokenCount,omitempty"`

	InvokeMetadata `json:"-"`
}

// NovaEmbedding is one vector; EmbeddingType says which input it is for
// (TEXT, IMAGE, AUDIO, VIDEO, AUDIO_VIDEO_COMBINED, ...).
type NovaEmbedding struct {
	EmbeddingType       string    `json:"embeddingType"`
	Embedding           []float64 `json:"embedding"`
	TruncatedCharLength *int      `json:"truncatedCharLength,omitempty"`
}

func (r *NovaEmbedResponse) setMetadata(m InvokeMetadata) { r.InvokeMetadata = m }

// NovaTextEmbedRequest is the request for embedding one text with Nova:
// purpose such as "GENERIC_INDEX", dimension 0 for the model default.
func NovaTextEmbedRequest(text, purpose string, dimension int) *NovaEmbedRequest {
	p := &NovaEmbedSingleParams{EmbeddingPurpose: purpose, EmbeddingDimension: dimension}
	p.Text = &NovaEmbedText{TruncationMode: "END", Value: text}
	return &NovaEmbedRequest{SchemaVersion: NovaEmbedSchemaVersion, TaskType: "SINGLE_EMBEDDING", SingleEmbeddingParams: p}
}

// EmbedNova embeds one input with Nova multimodal embeddings.
func (c *Client) EmbedNova(ctx context.Context, modelID string, req *NovaEmbedRequest, opts ...CallOption) (*NovaEmbedResponse, error) {
	return invokeJSON[NovaEmbedRequest, NovaEmbedResponse](ctx, c, modelID, req, opts...)
}
