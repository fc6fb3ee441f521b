// Command dynamodb-go is an ordinary application on aws-sdk-go-v2: it reads one DynamoDB
// item (and, when asked, tries to write one) with the SDK's default configuration and
// credential chain, and prints one JSON line per call. Nothing in it knows about IRSA: the
// credentials come from whatever the environment provides (in a mutated pod: the web
// identity token file and role the webhook injected), the endpoints from
// AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_DYNAMODB.
//
//	APP_TABLE     table to read (required)
//	APP_KEY       value of the string partition key `pk` to read (required)
//	APP_WRITE     1: also PutItem an item each round (expected to be denied)
//	APP_ROUNDS    rounds (default 1; at most 100000)
//	APP_INTERVAL  pause between rounds in milliseconds (default 1000)
//	APP_FRESH     1: load the configuration (and so the credentials) anew each round,
//	              as a short-lived process would: every round exchanges the token again
//
// Exits 0 after the last round, whatever the calls answered.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

type line struct {
	SDK     string `json:"sdk"`
	Round   int    `json:"round"`
	Op      string `json:"op"`
	OK      bool   `json:"ok"`
	Value   string `json:"value,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func envInt(name string, def, max int) int {
	v, err := strconv.Atoi(os.Getenv(name))
	if err != nil || v < 0 {
		return def
	}
	if v > max {
		return max
	}
	return v
}

func report(out *json.Encoder, l line, err error) {
	if err != nil {
		l.OK = false
		l.Message = err.Error()
		var api smithy.APIError
		if errors.As(err, &api) {
			l.Code = api.ErrorCode()
		}
	} else {
		l.OK = true
	}
	_ = out.Encode(l)
}

func main() {
	table, key := os.Getenv("APP_TABLE"), os.Getenv("APP_KEY")
	if table == "" || key == "" {
		fmt.Fprintln(os.Stderr, "APP_TABLE and APP_KEY are required")
		os.Exit(2)
	}
	rounds := envInt("APP_ROUNDS", 1, 100000)
	interval := time.Duration(envInt("APP_INTERVAL", 1000, 3600000)) * time.Millisecond
	write := os.Getenv("APP_WRITE") == "1"
	fresh := os.Getenv("APP_FRESH") == "1"

	ctx := context.Background()
	load := func() *dynamodb.Client {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load config:", err)
			os.Exit(1)
		}
		return dynamodb.NewFromConfig(cfg)
	}
	db := load()
	out := json.NewEncoder(os.Stdout)
	for round := 1; round <= rounds; round++ {
		if fresh && round > 1 {
			db = load()
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		got, err := db.GetItem(cctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: key}},
		})
		l := line{SDK: "go", Round: round, Op: "GetItem"}
		if err == nil {
			if v, ok := got.Item["value"].(*types.AttributeValueMemberS); ok {
				l.Value = v.Value
			}
		}
		report(out, l, err)
		if write {
			_, err = db.PutItem(cctx, &dynamodb.PutItemInput{
				TableName: aws.String(table),
				Item: map[string]types.AttributeValue{
					"pk":    &types.AttributeValueMemberS{Value: key + "-written"},
					"value": &types.AttributeValueMemberS{Value: "written"},
				},
			})
			report(out, line{SDK: "go", Round: round, Op: "PutItem"}, err)
		}
		cancel()
		if round < rounds {
			time.Sleep(interval)
		}
	}
}
