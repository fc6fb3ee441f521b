// Command sdk-go-client drives aws-sdk-go-v2 against `irsa sts` for
// crates/irsa-sts/tests/clients.rs (built by scripts/deps/sts-clients.sh).
//
//	identity: credentials from the default chain's web-identity provider
//	          (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ENDPOINT_URL_STS), then
//	          GetCallerIdentity; prints {"Arn","UserId","Account"}.
//	assume:   AssumeRoleWithWebIdentity with the token file's token (and $STS_TEST_POLICY);
//	          prints {"code": "OK"|<error code>, "message", "packedPolicySize"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sdk-go-client identity|assume")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load config:", err)
		os.Exit(1)
	}
	client := sts.NewFromConfig(cfg)
	out := json.NewEncoder(os.Stdout)
	switch os.Args[1] {
	case "identity":
		id, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "get-caller-identity:", err)
			os.Exit(1)
		}
		creds, _ := cfg.Credentials.Retrieve(ctx)
		if !strings.HasPrefix(creds.AccessKeyID, "ASIA") {
			fmt.Fprintln(os.Stderr, "not session credentials")
			os.Exit(1)
		}
		_ = out.Encode(map[string]string{"Arn": aws.ToString(id.Arn), "UserId": aws.ToString(id.UserId), "Account": aws.ToString(id.Account)})
	case "assume":
		tok, err := os.ReadFile(os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		in := &sts.AssumeRoleWithWebIdentityInput{
			RoleArn:          aws.String(os.Getenv("AWS_ROLE_ARN")),
			RoleSessionName:  aws.String("go"),
			WebIdentityToken: aws.String(strings.TrimSpace(string(tok))),
		}
		if p := os.Getenv("STS_TEST_POLICY"); p != "" {
			in.Policy = aws.String(p)
		}
		r, err := client.AssumeRoleWithWebIdentity(ctx, in)
		if err != nil {
			var api smithy.APIError
			if errors.As(err, &api) {
				_ = out.Encode(map[string]any{"code": api.ErrorCode(), "message": api.ErrorMessage()})
				return
			}
			fmt.Fprintln(os.Stderr, "assume:", err)
			os.Exit(1)
		}
		_ = out.Encode(map[string]any{"code": "OK", "arn": aws.ToString(r.AssumedRoleUser.Arn), "packedPolicySize": aws.ToInt32(r.PackedPolicySize)})
	}
}
