"""boto3 driven by crates/irsa-sts/tests/clients.rs against `irsa sts`.

identity: credentials from boto3's web-identity provider (AWS_WEB_IDENTITY_TOKEN_FILE,
          AWS_ROLE_ARN, AWS_ENDPOINT_URL_STS), then GetCallerIdentity; prints its JSON.
assume:   AssumeRoleWithWebIdentity with the token file's token (and $STS_TEST_POLICY as the
          session policy); prints {"code": "OK"|<error code>, "message": ..., ...}.
"""
import json
import os
import sys

import boto3
import botocore.exceptions


def main() -> int:
    mode = sys.argv[1]
    session = boto3.session.Session()
    sts = session.client("sts")
    if mode == "identity":
        ident = sts.get_caller_identity()
        creds = session.get_credentials().get_frozen_credentials()
        assert creds.access_key.startswith("ASIA"), "not session credentials"
        print(json.dumps({k: ident[k] for k in ("Arn", "UserId", "Account")}))
        return 0
    token = open(os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"]).read().strip()
    kwargs = dict(RoleArn=os.environ["AWS_ROLE_ARN"], RoleSessionName="boto3", WebIdentityToken=token)
    if os.environ.get("STS_TEST_POLICY"):
        kwargs["Policy"] = os.environ["STS_TEST_POLICY"]
    try:
        r = sts.assume_role_with_web_identity(**kwargs)
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        print(json.dumps({"code": err.get("Code"), "message": err.get("Message"),
                          "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
        return 0
    print(json.dumps({"code": "OK", "arn": r["AssumedRoleUser"]["Arn"],
                      "packedPolicySize": r.get("PackedPolicySize"),
                      "provider": r.get("Provider"), "audience": r.get("Audience")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
