"""boto3 against irsa gateway: run by tests/gateway.rs with the session credentials in the
environment; prints one JSON object of results on stdout."""
import json
import os

import boto3
import botocore.exceptions
from boto3.dynamodb.conditions import Key
from botocore.config import Config

ENDPOINT = os.environ["GATEWAY_URL"]


def session_kwargs(prefix):
    return dict(
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=os.environ[prefix + "_AKID"],
        aws_secret_access_key=os.environ[prefix + "_SECRET"],
        aws_session_token=os.environ[prefix + "_TOKEN"],
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def outcome(fn):
    try:
        fn()
        return "OK"
    except botocore.exceptions.ClientError as e:
        return {
            "code": e.response["Error"]["Code"],
            "message": e.response["Error"].get("Message"),
            "status": e.response["ResponseMetadata"]["HTTPStatusCode"],
        }


out = {}
reader = boto3.client("dynamodb", **session_kwargs("READER"))
hobbit = {"Author": {"S": "Tolkien"}, "Title": {"S": "The Hobbit"}}

out["get"] = reader.get_item(TableName="Books", Key=hobbit)["Item"]
out["query_count"] = reader.query(
    TableName="Books",
    KeyConditionExpression="Author = :a",
    ExpressionAttributeValues={":a": {"S": "Tolkien"}},
)["Count"]

# The resource API writes its own placeholders (#n0 = :v0).
table = boto3.resource("dynamodb", **session_kwargs("READER")).Table("Books")
items = table.query(KeyConditionExpression=Key("Author").eq("Tolkien"))["Items"]
out["resource_query_titles"] = sorted(i["Title"] for i in items)

out["index_allowed"] = [
    i["Title"]["S"]
    for i in reader.query(
        TableName="Books",
        IndexName="ByGenre",
        KeyConditionExpression="Genre = :g",
        ExpressionAttributeValues={":g": {"S": "SciFi"}},
    )["Items"]
]
out["index_denied"] = outcome(
    lambda: reader.query(
        TableName="Books",
        IndexName="ByYear",
        KeyConditionExpression="#y = :y",
        ExpressionAttributeNames={"#y": "Year"},
        ExpressionAttributeValues={":y": {"N": "1965"}},
    )
)
out["put_denied"] = outcome(
    lambda: reader.put_item(
        TableName="Books", Item={"Author": {"S": "Le Guin"}, "Title": {"S": "Earthsea"}}
    )
)

# Tamper with the body after signing (same length): the signature no longer matches.
tampered = boto3.client("dynamodb", **session_kwargs("READER"))


def tamper(request, **_):
    request.body = request.body.replace(b"Hobbit", b"Hobbiu")


tampered.meta.events.register("before-send.dynamodb.GetItem", tamper)
out["tampered"] = outcome(lambda: tampered.get_item(TableName="Books", Key=hobbit))

writer = boto3.resource("dynamodb", **session_kwargs("WRITER")).Table("Books")
out["writer_tolkien"] = outcome(
    lambda: writer.put_item(Item={"Author": "Tolkien", "Title": "Roverandom"})
)
out["writer_other"] = outcome(
    lambda: writer.put_item(Item={"Author": "Pratchett", "Title": "Mort"})
)

print(json.dumps(out))
