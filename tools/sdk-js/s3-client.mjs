// AWS SDK for JavaScript v3 (@aws-sdk/client-s3, @aws-sdk/lib-storage), unmodified, against
// `irsa gateway` in front of an S3 server (crates/irsa-gateway/tests/gateway/s3.rs).
// Environment: GATEWAY, READER_* and WRITER_* (AKID, SECRET, TOKEN), BIG_SIZE (bytes of the
// multipart upload). Prints one JSON object: each step's outcome ("ok", the error's code, or
// data). The SDK's defaults are kept (checksums included); only retries are turned off.
import {
  S3Client,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";

const E = process.env;
const client = (who) =>
  new S3Client({
    endpoint: E.GATEWAY,
    region: "us-east-1",
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: {
      accessKeyId: E[`${who}_AKID`],
      secretAccessKey: E[`${who}_SECRET`],
      sessionToken: E[`${who}_TOKEN`],
    },
  });
const reader = client("READER");
const writer = client("WRITER");
const out = {};
async function step(name, fn) {
  try {
    const v = await fn();
    out[name] = v === undefined ? "ok" : v;
  } catch (e) {
    out[name] = e.Code || e.name || String(e);
  }
}

await step("get", async () => {
  const r = await reader.send(new GetObjectCommand({ Bucket: "my-bucket", Key: "reports/q1.csv" }));
  return await r.Body.transformToString();
});
await step("list_reports", async () => {
  const r = await reader.send(new ListObjectsV2Command({ Bucket: "my-bucket", Prefix: "reports/" }));
  return (r.Contents || []).map((o) => o.Key);
});
await step("list_private", async () => {
  await reader.send(new ListObjectsV2Command({ Bucket: "my-bucket", Prefix: "private/" }));
});
await step("put_outside", async () => {
  await writer.send(new PutObjectCommand({ Bucket: "my-bucket", Key: "reports/js.txt", Body: "x" }));
});
await step("put", async () => {
  await writer.send(new PutObjectCommand({ Bucket: "my-bucket", Key: "uploads/js.txt", Body: "from js" }));
});
// A stream body of a known length: the SDK sends it as aws-chunked with a trailing CRC32
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) in HTTP chunked transfer encoding.
const streamed = (key) =>
  writer.send(
    new PutObjectCommand({
      Bucket: "my-bucket",
      Key: key,
      Body: Readable.from([Buffer.from("streamed ".repeat(20000))]),
      ContentLength: 9 * 20000,
    }),
  );
await step("put_stream", async () => {
  await streamed("uploads/js-stream.txt");
});
await step("put_stream_outside", async () => {
  await streamed("reports/js-stream.txt");
});
// lib-storage's Upload from a stream: multipart in 5 MiB parts.
const size = Number(E.BIG_SIZE);
const big = randomBytes(size);
await step("upload", async () => {
  const upload = new Upload({
    client: writer,
    params: { Bucket: "my-bucket", Key: "uploads/js-big.bin", Body: Readable.from([big]) },
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    leavePartsOnError: false,
  });
  await upload.done();
});
await step("upload_back", async () => {
  const r = await writer.send(new GetObjectCommand({ Bucket: "my-bucket", Key: "uploads/js-big.bin" }));
  const got = Buffer.from(await r.Body.transformToByteArray());
  return got.equals(big) ? "same" : `differs (${got.length} bytes)`;
});
await step("upload_outside", async () => {
  const upload = new Upload({
    client: writer,
    params: { Bucket: "my-bucket", Key: "reports/js-big.bin", Body: Readable.from([big]) },
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
  });
  await upload.done();
});
console.log(JSON.stringify(out));
