"""Unmodified boto3 and aws CLI against `irsa gateway` in front of an S3 server.

Environment: GATEWAY, UPSTREAM (the S3 server), UPSTREAM_AKID/UPSTREAM_SECRET, READER_* and
WRITER_* (AKID, SECRET, TOKEN), AWS_CLI (path of `aws`), WORK (a scratch folder).
Prints one JSON object: each step's outcome ("ok", the error code, or data).
"""
import json
import os
import subprocess
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

E = os.environ
out = {}
cfg = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(url, akid, secret, token=None):
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=akid,
        aws_secret_access_key=secret, aws_session_token=token, config=cfg)


def step(name, fn):
    try:
        out[name] = fn()
        if out[name] is None:
            out[name] = "ok"
    except ClientError as e:
        out[name] = e.response["Error"]["Code"]


direct = client(E["UPSTREAM"], E["UPSTREAM_AKID"], E["UPSTREAM_SECRET"])
direct.create_bucket(Bucket="my-bucket")
direct.put_object(Bucket="my-bucket", Key="reports/q1.csv", Body=b"region,total\neu,42\n")
direct.put_object(Bucket="my-bucket", Key="private/payroll.csv", Body=b"secret")

reader = client(E["GATEWAY"], E["READER_AKID"], E["READER_SECRET"], E["READER_TOKEN"])
writer = client(E["GATEWAY"], E["WRITER_AKID"], E["WRITER_SECRET"], E["WRITER_TOKEN"])

step("get", lambda: reader.get_object(Bucket="my-bucket", Key="reports/q1.csv")["Body"].read().decode())
step("head", lambda: reader.head_object(Bucket="my-bucket", Key="reports/q1.csv")["ContentLength"])
step("list_reports", lambda: [o["Key"] for o in reader.list_objects_v2(Bucket="my-bucket", Prefix="reports/").get("Contents", [])])
step("list_private", lambda: reader.list_objects_v2(Bucket="my-bucket", Prefix="private/"))
step("get_private", lambda: reader.get_object(Bucket="my-bucket", Key="private/payroll.csv"))
step("reader_put", lambda: reader.put_object(Bucket="my-bucket", Key="reports/forged.csv", Body=b"x") and None)
step("writer_put", lambda: writer.put_object(Bucket="my-bucket", Key="uploads/a.txt", Body=b"hello") and None)
step("writer_put_outside", lambda: writer.put_object(Bucket="my-bucket", Key="reports/b.txt", Body=b"x") and None)
step("writer_put_secret", lambda: writer.put_object(Bucket="my-bucket", Key="uploads/secret.txt", Body=b"s") and None)
step("writer_get_secret", lambda: writer.get_object(Bucket="my-bucket", Key="uploads/secret.txt"))
big = os.path.join(E["WORK"], "big.bin")
with open(big, "wb") as f:
    f.write(os.urandom(20 * 1024 * 1024 + 123))
step("upload_file", lambda: writer.upload_file(big, "my-bucket", "uploads/big.bin", Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20)))
step("upload_file_size", lambda: direct.head_object(Bucket="my-bucket", Key="uploads/big.bin")["ContentLength"])
step("forged_exists", lambda: direct.head_object(Bucket="my-bucket", Key="reports/forged.csv") and "present")
step("outside_exists", lambda: direct.head_object(Bucket="my-bucket", Key="reports/b.txt") and "present")

# The aws CLI, unmodified.
v4_config = os.path.join(E["WORK"], "aws-config")
with open(v4_config, "w") as f:
    f.write("[default]\ns3 =\n    signature_version = s3v4\n")


def cli(creds, *args, config="/dev/null"):
    env = dict(E, AWS_ACCESS_KEY_ID=E[creds + "_AKID"], AWS_SECRET_ACCESS_KEY=E[creds + "_SECRET"],
               AWS_SESSION_TOKEN=E[creds + "_TOKEN"], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=config, AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    r = subprocess.run([E["AWS_CLI"], "--endpoint-url", E["GATEWAY"], *args], env=env,
                       capture_output=True, text=True, timeout=120)
    return {"rc": r.returncode, "out": r.stdout, "err": r.stderr[-400:]}

out["cli_cp"] = cli("WRITER", "s3", "cp", big, "s3://my-bucket/uploads/cli.bin")
out["cli_cp_size"] = direct.head_object(Bucket="my-bucket", Key="uploads/cli.bin")["ContentLength"] if out["cli_cp"]["rc"] == 0 else None
out["cli_ls"] = cli("READER", "s3", "ls", "s3://my-bucket/reports/")
out["cli_ls_private"] = cli("READER", "s3", "ls", "s3://my-bucket/private/")
sync = os.path.join(E["WORK"], "sync")
os.makedirs(sync, exist_ok=True)
for i in range(3):
    with open(os.path.join(sync, f"f{i}.txt"), "w") as f:
        f.write(f"file {i}\n")
out["cli_sync"] = cli("WRITER", "s3", "sync", sync, "s3://my-bucket/uploads/sync/")
out["cli_sync_keys"] = sorted(o["Key"] for o in direct.list_objects_v2(Bucket="my-bucket", Prefix="uploads/sync/").get("Contents", []))
def curl(url):
    r = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", url], capture_output=True,
                       text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return {"status": int(code or 0), "body": body}

pre = cli("READER", "s3", "presign", "s3://my-bucket/reports/q1.csv", "--expires-in", "300",
          config=v4_config)
out["presigned_get"] = curl(pre["out"].strip())
pre = cli("READER", "s3", "presign", "s3://my-bucket/private/payroll.csv", config=v4_config)
out["presigned_private"] = curl(pre["out"].strip())
# The CLI's default presigned URL is signature version 2, which the gateway does not take.
pre = cli("READER", "s3", "presign", "s3://my-bucket/reports/q1.csv")
out["presigned_v2"] = curl(pre["out"].strip())
json.dump(out, sys.stdout)
