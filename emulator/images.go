package emulator

// invokeImage answers InvokeModel for an image model (Nova Canvas, Titan Image
// Generator v1/v2) with the native response body {"images":[...]}.
func invokeImage(modelID string, body []byte) (resp []byte, err *apiError) {
	return nil, &apiError{Status: 501, Code: "InternalServerException", Message: "image generation is not implemented yet"}
}
