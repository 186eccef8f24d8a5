package emulator

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// The emulator is used like httptest.NewServer: start it, point the official
// SDK at its URL with the test/test key pair, and close it when done. The
// reply is deterministic ("Say X" is answered "X."), so it can be asserted on.
func Example() {
	srv, err := NewServer(Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client := bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   sdkHTTPClient, // tests only: see its comment in sdk_test.go
	})
	out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String("us.amazon.nova-lite-v1:0"),
		Messages: []types.Message{{
			Role:    types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Say hello from the emulator"}},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	reply := out.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value
	fmt.Println(reply)
	fmt.Println(out.StopReason, *out.Usage.InputTokens > 0, srv.Stats().Requests[OpConverse])
	// Output:
	// Hello from the emulator.
	// end_turn true 1
}
