// AWS SDK for JavaScript v3 against `irsa sts` (crates/irsa-sts/tests/clients.rs).
//   identity: credentials from fromTokenFile() (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN;
//             the endpoint from AWS_ENDPOINT_URL_STS), then GetCallerIdentity.
//   assume:   AssumeRoleWithWebIdentity with the token file's token (and $STS_TEST_POLICY).
//   chain:    credentials from the default provider chain (e.g. the container credentials
//             provider: AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE),
//             then GetCallerIdentity.
import { readFileSync } from "node:fs";
import {
  STSClient,
  GetCallerIdentityCommand,
  AssumeRoleWithWebIdentityCommand,
} from "@aws-sdk/client-sts";
import { fromTokenFile } from "@aws-sdk/credential-providers";

const mode = process.argv[2];
if (mode === "chain") {
  const client = new STSClient({});
  const id = await client.send(new GetCallerIdentityCommand({}));
  const creds = await client.config.credentials();
  if (!creds.accessKeyId.startsWith("ASIA")) throw new Error("not session credentials");
  console.log(JSON.stringify({ Arn: id.Arn, UserId: id.UserId, Account: id.Account }));
} else if (mode === "identity") {
  const credentials = fromTokenFile({ clientConfig: { region: process.env.AWS_REGION } });
  const client = new STSClient({ credentials });
  const id = await client.send(new GetCallerIdentityCommand({}));
  const creds = await credentials();
  if (!creds.accessKeyId.startsWith("ASIA")) throw new Error("not session credentials");
  console.log(JSON.stringify({ Arn: id.Arn, UserId: id.UserId, Account: id.Account }));
} else {
  const client = new STSClient({});
  const input = {
    RoleArn: process.env.AWS_ROLE_ARN,
    RoleSessionName: "js",
    WebIdentityToken: readFileSync(process.env.AWS_WEB_IDENTITY_TOKEN_FILE, "utf8").trim(),
  };
  if (process.env.STS_TEST_POLICY) input.Policy = process.env.STS_TEST_POLICY;
  try {
    const r = await client.send(new AssumeRoleWithWebIdentityCommand(input));
    console.log(JSON.stringify({ code: "OK", arn: r.AssumedRoleUser.Arn, packedPolicySize: r.PackedPolicySize }));
  } catch (e) {
    // The wire <Code> (SDK exception names add "Exception" to modeled codes).
    console.log(JSON.stringify({ code: e.Error?.Code ?? e.Code ?? e.name, name: e.name, message: e.message }));
  }
}
