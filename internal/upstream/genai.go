package upstream

import (
	"github.com/quarry-dev/quarry/bedrock"
	"github.com/quarry-dev/quarry/internal/accesslog"
)

// GenAI operation names (gen_ai.operation.name) the surfaces record.
const (
	OpChat       = "chat"
	OpEmbeddings = "embeddings"
)

// RecordCall puts on e what telemetry reports of a call to m: the
// operation, the Bedrock model that serves it, and the sampling parameters
// sent (ic may be nil). Every surface calls it once it knows the call.
func RecordCall(e *accesslog.Entry, op string, m *Model, ic *bedrock.InferenceConfig) {
	e.SetOperation(op)
	e.SetResponseModel(m.ModelID)
	if ic != nil {
		e.SetRequestParams(ic.MaxTokens, ic.Temperature, ic.TopP)
	}
}
