// Command s3client drives aws-sdk-go-v2 (service/s3 and feature/s3/manager's upload
// manager), unmodified, against `irsa gateway` in front of an S3 server, for
// crates/irsa-gateway/tests/gateway/s3.rs (built by scripts/deps/sts-clients.sh).
//
// Environment: GATEWAY, READER_* and WRITER_* (AKID, SECRET, TOKEN), BIG_SIZE (bytes of
// the multipart upload). Prints one JSON object: each step's outcome ("ok", the error's
// code, or data). The SDK's defaults are kept (checksums included); retries are off.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

func client(who string) *s3.Client {
	cfg := aws.Config{
		Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(
			os.Getenv(who+"_AKID"), os.Getenv(who+"_SECRET"), os.Getenv(who+"_TOKEN")),
		RetryMaxAttempts: 1,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(os.Getenv("GATEWAY"))
		o.UsePathStyle = true
	})
}

func code(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return err.Error()
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	reader, writer := client("READER"), client("WRITER")
	out := map[string]any{}
	step := func(name string, fn func() (any, error)) {
		v, err := fn()
		switch {
		case err != nil:
			out[name] = code(err)
		case v == nil:
			out[name] = "ok"
		default:
			out[name] = v
		}
	}
	bucket := aws.String("my-bucket")

	step("get", func() (any, error) {
		r, err := reader.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("reports/q1.csv")})
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		return string(b), err
	})
	step("list_reports", func() (any, error) {
		r, err := reader.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("reports/")})
		if err != nil {
			return nil, err
		}
		keys := []string{}
		for _, o := range r.Contents {
			keys = append(keys, *o.Key)
		}
		return keys, nil
	})
	step("list_private", func() (any, error) {
		_, err := reader.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("private/")})
		return nil, err
	})
	step("put_outside", func() (any, error) {
		_, err := writer.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("reports/go.txt"), Body: strings.NewReader("x")})
		return nil, err
	})
	step("put", func() (any, error) {
		_, err := writer.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("uploads/go.txt"), Body: strings.NewReader("from go")})
		return nil, err
	})

	size, err := strconv.Atoi(os.Getenv("BIG_SIZE"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "BIG_SIZE:", err)
		os.Exit(2)
	}
	big := make([]byte, size)
	if _, err := rand.Read(big); err != nil {
		panic(err)
	}
	// The upload manager: multipart in 5 MiB parts, two at a time. The body is an
	// io.Reader without Seek, so parts are buffered and sent as the manager sends them.
	uploader := manager.NewUploader(writer, func(u *manager.Uploader) {
		u.PartSize = 5 << 20
		u.Concurrency = 2
	})
	step("upload", func() (any, error) {
		_, err := uploader.Upload(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("uploads/go-big.bin"), Body: io.MultiReader(bytes.NewReader(big))})
		return nil, err
	})
	step("upload_back", func() (any, error) {
		r, err := writer.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("uploads/go-big.bin")})
		if err != nil {
			return nil, err
		}
		defer r.Body.Close()
		got, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if bytes.Equal(got, big) {
			return "same", nil
		}
		return fmt.Sprintf("differs (%d bytes)", len(got)), nil
	})
	step("upload_outside", func() (any, error) {
		_, err := uploader.Upload(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("reports/go-big.bin"), Body: bytes.NewReader(big)})
		return nil, err
	})
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
