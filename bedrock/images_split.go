package bedrock

import "context"

// ImagesPerCall is the most images one Nova Canvas or Titan Image call
// makes (imageGenerationConfig.numberOfImages).
const ImagesPerCall = 5

// GenerateImages is GenerateImage for any number of images: above
// ImagesPerCall it makes one call per five, in order, and joins the images.
// With a seed, call k uses seed+k (within the model's seed range) so that
// the calls do not repeat each other's images. The first call's request ID
// is kept; token counts add up; the first content-filter Error is kept.
func (c *Client) GenerateImages(ctx context.Context, modelID string, req *ImageRequest, opts ...CallOption) (*ImageResponse, error) {
	cfg := req.ImageGenerationConfig
	if cfg == nil || cfg.NumberOfImages <= ImagesPerCall {
		return c.GenerateImage(ctx, modelID, req, opts...)
	}
	seedRange := 2147483647 // Titan Image: 0-2,147,483,646
	if ModelFamily(modelID) == FamilyNovaCanvas {
		seedRange = 858993460 // 0-858,993,459
	}
	total := &ImageResponse{}
	for k, left := 0, cfg.NumberOfImages; left > 0; k++ {
		part, pc := *req, *cfg
		pc.NumberOfImages = min(left, ImagesPerCall)
		if cfg.Seed != nil {
			s := (*cfg.Seed + k) % seedRange
			pc.Seed = &s
		}
		part.ImageGenerationConfig = &pc
		resp, err := c.GenerateImage(ctx, modelID, &part, opts...)
		if err != nil {
			return nil, err
		}
		total.Images = append(total.Images, resp.Images...)
		if total.Error == "" {
			total.Error = resp.Error
		}
		if k == 0 {
			total.InvokeMetadata = resp.InvokeMetadata
		} else {
			total.InputTokenCount += resp.InputTokenCount
			total.OutputTokenCount += resp.OutputTokenCount
		}
		left -= pc.NumberOfImages
	}
	return total, nil
}
