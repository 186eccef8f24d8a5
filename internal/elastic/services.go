package elastic

import (
	"net/http"
	"slices"
)

// serviceConfig is InferenceServiceConfiguration as GET _inference/_services
// shows it.
type serviceConfig struct {
	Service        string                  `json:"service"`
	Name           string                  `json:"name"`
	TaskTypes      []string                `json:"task_types"`
	Configurations map[string]settingField `json:"configurations"`
}

// settingField is SettingsConfiguration: one field of service_settings.
type settingField struct {
	DefaultValue       any      `json:"default_value,omitempty"`
	Description        string   `json:"description"`
	Label              string   `json:"label"`
	Required           bool     `json:"required"`
	Sensitive          bool     `json:"sensitive"`
	Updatable          bool     `json:"updatable"`
	Type               string   `json:"type"`
	SupportedTaskTypes []string `json:"supported_task_types"`
}

func bedrockService() serviceConfig {
	all := slices.Clone(servedTasks)
	f := func(label, desc, typ string, required, sensitive, updatable bool, tasks []string) settingField {
		return settingField{Description: desc, Label: label, Required: required, Sensitive: sensitive,
			Updatable: updatable, Type: typ, SupportedTaskTypes: tasks}
	}
	return serviceConfig{
		Service:   serviceName,
		Name:      "Amazon Bedrock",
		TaskTypes: all,
		Configurations: map[string]settingField{
			"access_key": f("Access Key", "A valid AWS access key that has permissions to use Amazon Bedrock.",
				"str", true, true, true, all),
			"secret_key": f("Secret Key", "A valid AWS secret key that is paired with the access_key.",
				"str", true, true, true, all),
			"provider": f("Provider", "The model provider for your deployment.", "str", true, false, false, all),
			"model": f("Model", "The base model ID or an ARN to a custom model based on a foundational model.",
				"str", true, false, false, all),
			"region": f("Region", "The region that your model or ARN is deployed in.", "str", true, false, false, all),
			"dimensions": f("Dimensions", "The number of dimensions the resulting embeddings have; detected when the endpoint is created.",
				"int", false, false, false, []string{taskTextEmbedding}),
			"rate_limit.requests_per_minute": {
				DefaultValue: defaultRequestsPerMinute,
				Description:  "By default, the amazonbedrock service sets the number of requests allowed per minute to 240.",
				Label:        "Rate Limit", Updatable: true, Type: "int", SupportedTaskTypes: all,
			},
		},
	}
}

// services serves GET /_inference/_services[/task_type].
func (h *Handler) services(w http.ResponseWriter, r *http.Request, rawTask string) {
	out := []serviceConfig{}
	svc := bedrockService()
	if rawTask == "" {
		out = append(out, svc)
	} else {
		task, e := parseTaskType(rawTask)
		if e != nil {
			writeError(w, r, e)
			return
		}
		if slices.Contains(svc.TaskTypes, task) {
			out = append(out, svc)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
