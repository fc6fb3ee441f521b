// Command dynamodb-go is an ordinary application on aws-sdk-go-v2: it reads one DynamoDB
// item and, when given a bucket, one S3 object (and, when asked, tries to write one of
// each) with the SDK's default configuration and credential chain, and prints one JSON
// line per call. Nothing in it knows about IRSA: the credentials come from whatever the
// environment provides (in a mutated pod: the web identity token file and role the
// webhook injected, or the container credentials endpoint and its token file), the
// endpoints from AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3.
//
//	APP_TABLE     table to read (required)
//	APP_KEY       value of the string partition key `pk` to read (required)
//	APP_BUCKET    bucket to read APP_OBJECT from with GetObject each round (optional)
//	APP_OBJECT    key of the object to read (required with APP_BUCKET)
//	APP_WRITE     1: also PutItem an item (and PutObject an object) each round
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
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

	bucket, object := os.Getenv("APP_BUCKET"), os.Getenv("APP_OBJECT")
	if bucket != "" && object == "" {
		fmt.Fprintln(os.Stderr, "APP_OBJECT is required with APP_BUCKET")
		os.Exit(2)
	}

	ctx := context.Background()
	load := func() (*dynamodb.Client, *s3.Client) {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load config:", err)
			os.Exit(1)
		}
		return dynamodb.NewFromConfig(cfg), s3.NewFromConfig(cfg)
	}
	db, objects := load()
	out := json.NewEncoder(os.Stdout)
	for round := 1; round <= rounds; round++ {
		if fresh && round > 1 {
			db, objects = load()
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
		if bucket != "" {
			readObject(cctx, out, objects, round, bucket, object)
			if write {
				_, err = objects.PutObject(cctx, &s3.PutObjectInput{
					Bucket: aws.String(bucket),
					Key:    aws.String(object + "-written"),
					Body:   strings.NewReader("written"),
				})
				report(out, line{SDK: "go", Round: round, Op: "PutObject"}, err)
			}
		}
		cancel()
		if round < rounds {
			time.Sleep(interval)
		}
	}
}

// readObject reads the object (at most 1 MiB of it) and reports its content as the value.
func readObject(ctx context.Context, out *json.Encoder, objects *s3.Client, round int, bucket, key string) {
	l := line{SDK: "go", Round: round, Op: "GetObject"}
	got, err := objects.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		var body []byte
		body, err = io.ReadAll(io.LimitReader(got.Body, 1<<20))
		_ = got.Body.Close()
		l.Value = string(body)
	}
	report(out, l, err)
}
