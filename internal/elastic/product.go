package elastic

import (
	"mime"
	"net/http"
	"strings"
)

// The official Elasticsearch clients (JavaScript @elastic/transport's
// ProductCheck middleware, go-elasticsearch's genuineCheckHeader, the
// Python and Java transports) refuse a server whose 2xx answers lack
// "X-Elastic-Product: Elasticsearch". They also ask for Elasticsearch's
// versioned media type ("application/vnd.elasticsearch+json;
// compatible-with=9") and expect it echoed. Product does both for the
// handlers it wraps, the API-key check included, so that a 401 too reads as
// Elasticsearch's.

// productHeader is the header and value the clients check.
const (
	productHeader = "X-Elastic-Product"
	productName   = "Elasticsearch"
)

// Version is the Elasticsearch release whose behaviour this package
// follows and whose number GET / reports.
const Version = "9.1.0"

// compatibleVersions are the compatible-with values an Elasticsearch 9
// server accepts (RestCompatibleVersionHelper: the current major and the
// one before).
var compatibleVersions = []string{"8", "9"}

// Product wraps next so that every answer says it is Elasticsearch and
// speaks the media type the client asked for. A versioned media type for
// another major is refused as Elasticsearch refuses it.
func Product(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(productHeader, productName)
		ct, e := negotiate(r)
		if e != nil {
			writeError(w, r, e)
			return
		}
		if ct != "" {
			w = &mediaTypeWriter{ResponseWriter: w, ct: ct}
		}
		next.ServeHTTP(w, r)
	})
}

// negotiate returns the Content-Type to answer JSON with when the request
// asked for a versioned one ("" for plain application/json).
func negotiate(r *http.Request) (string, *Error) {
	acceptV, okA := compatibleWith(r.Header.Get("Accept"))
	ctV, okC := compatibleWith(r.Header.Get("Content-Type"))
	if !okA || !okC {
		return "", &Error{Status: http.StatusBadRequest, Type: "media_type_header_exception",
			Reason: "Invalid media-type value on headers [Accept, Content-Type]"}
	}
	// Elasticsearch requires the two to agree when both name a version.
	if acceptV != "" && ctV != "" && acceptV != ctV && r.ContentLength != 0 {
		return "", &Error{Status: http.StatusBadRequest, Type: "media_type_header_exception",
			Reason: "Invalid media-type value on headers [Accept, Content-Type]"}
	}
	if acceptV == "" {
		acceptV = ctV
	}
	if acceptV == "" {
		return "", nil
	}
	return "application/vnd.elasticsearch+json;compatible-with=" + acceptV, nil
}

// compatibleWith reads the compatible-with parameter of the first
// Elasticsearch vendor media type in a header value (Accept may list
// several, comma-separated). ok is false for a vendor type naming a version
// this server does not speak.
func compatibleWith(h string) (version string, ok bool) {
	for part := range strings.SplitSeq(h, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || !strings.HasPrefix(mt, "application/vnd.elasticsearch+") {
			continue
		}
		v, has := params["compatible-with"]
		if !has {
			return "", true
		}
		for _, cv := range compatibleVersions {
			if v == cv {
				return v, true
			}
		}
		return "", false
	}
	return "", true
}

// mediaTypeWriter swaps the plain JSON Content-Type for the negotiated one
// as the header is written; server-sent events keep theirs.
type mediaTypeWriter struct {
	http.ResponseWriter
	ct    string
	wrote bool
}

func (m *mediaTypeWriter) WriteHeader(code int) {
	if !m.wrote {
		m.wrote = true
		if h := m.Header(); h.Get("Content-Type") == "application/json" {
			h.Set("Content-Type", m.ct)
		}
	}
	m.ResponseWriter.WriteHeader(code)
}

func (m *mediaTypeWriter) Write(b []byte) (int, error) {
	if !m.wrote {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (m *mediaTypeWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// clusterInfo is GET /'s answer (RestMainAction), which the clients'
// older product checks and Kibana read.
type clusterInfo struct {
	Name        string      `json:"name"`
	ClusterName string      `json:"cluster_name"`
	ClusterUUID string      `json:"cluster_uuid"`
	Version     versionInfo `json:"version"`
	Tagline     string      `json:"tagline"`
}

type versionInfo struct {
	Number                           string `json:"number"`
	BuildFlavor                      string `json:"build_flavor"`
	BuildType                        string `json:"build_type"`
	BuildHash                        string `json:"build_hash"`
	BuildDate                        string `json:"build_date"`
	BuildSnapshot                    bool   `json:"build_snapshot"`
	LuceneVersion                    string `json:"lucene_version"`
	MinimumWireCompatibilityVersion  string `json:"minimum_wire_compatibility_version"`
	MinimumIndexCompatibilityVersion string `json:"minimum_index_compatibility_version"`
}

// ClusterInfo serves GET / and HEAD / (the clients' ping) as Elasticsearch
// does. Wrap it in Product.
func ClusterInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET,HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
			"error":  "Incorrect HTTP method for uri [/] and method [" + r.Method + "], allowed: [GET, HEAD]",
			"status": http.StatusMethodNotAllowed,
		})
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, clusterInfo{
		Name: "quarry", ClusterName: "quarry", ClusterUUID: "quarry-amazonbedrock-gateway",
		Version: versionInfo{
			Number: Version, BuildFlavor: "default", BuildType: "quarry", BuildHash: "quarry",
			BuildDate: "2025-07-17T00:00:00.000Z", LuceneVersion: "10.2.2",
			MinimumWireCompatibilityVersion: "8.19.0", MinimumIndexCompatibilityVersion: "8.0.0",
		},
		Tagline: "You Know, for Search",
	})
}
