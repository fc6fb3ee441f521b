#!/usr/bin/env python3
"""Regenerates fuzz/seeds/<target>/ from the repository's fixtures (small, committed).

Run from anywhere: python3 fuzz/gen_seeds.py. Needs PyYAML and `cryptography` (for the
signed JWT seeds). The seeds are starting points only; fuzz/corpus/ is the working corpus.
"""
import base64, glob, hashlib, json, os, pathlib, shutil, subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
FIX = ROOT / "crates" / "irsa-jose" / "tests" / "fixtures"
NOW = 1_700_000_000


def out(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def compact(v):
    return json.dumps(v, separators=(",", ":"))


# --- irsa-policy ---------------------------------------------------------------------
cases = sorted(glob.glob(str(ROOT / "crates/irsa-policy/tests/cases/*.json")), key=os.path.getsize)
policies = []
for c in cases:
    doc = json.loads(pathlib.Path(c).read_text())
    for k in ("identityPolicies", "permissionBoundaries", "sessionPolicies"):
        policies += [p for p in doc.get(k, [])]
    if doc.get("resourcePolicy") is not None:
        policies.append(doc["resourcePolicy"])
seen = set()
n = 0
for p in policies:
    text = p if isinstance(p, str) else compact(p)
    if text in seen:
        continue
    seen.add(text)
    for t in ("policy_parse", "policy_validate"):
        out(t, f"case-{n:02}.json", text)
    n += 1
    if n >= 16:
        break
for c in cases[:8] + [str(p) for p in (ROOT / "examples/policy").glob("*.json")]:
    out("policy_eval", pathlib.Path(c).name, pathlib.Path(c).read_bytes())

# --- irsa-jose -----------------------------------------------------------------------
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, ec

kids = dict(line.split() for line in (FIX / "kids.txt").read_text().splitlines() if line.strip())
rsa_key = serialization.load_pem_private_key((FIX / "rsa2048-a.key").read_bytes(), None)
p256_key = serialization.load_pem_private_key((FIX / "p256-a.key").read_bytes(), None)


def jwt(header, claims, key):
    si = f"{b64u(compact(header).encode())}.{b64u(compact(claims).encode())}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        r, s = decode_dss_signature(key.sign(si.encode(), ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        sig = key.sign(si.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{si}.{b64u(sig)}"


claims = {
    "aud": ["sts.amazonaws.com"], "exp": NOW + 3600, "iat": NOW, "nbf": NOW,
    "iss": "https://issuer.example.com",
    "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "u"}},
    "sub": "system:serviceaccount:default:app",
}
rs_header = {"alg": "RS256", "kid": kids["rsa2048-a.pub"]}
es_header = {"alg": "ES256", "kid": kids["p256-a.pub"]}
rs_token = jwt(rs_header, claims, rsa_key)
es_token = jwt(es_header, claims, p256_key)
out("jose_peek", "rs256.jwt", rs_token)
out("jose_peek", "es256.jwt", es_token)
out("jose_peek", "rsa1024.jwt", (FIX / "rsa1024.jwt").read_text().strip())
out("jose_verify", "raw-rs256", b"\x00" + rs_token.encode())
out("jose_verify", "raw-es256", b"\x00" + es_token.encode())
out("jose_verify", "raw-rsa1024", b"\x00" + (FIX / "rsa1024.jwt").read_bytes().strip())
out("jose_verify", "signed-rs256", b"\x01" + compact(rs_header).encode() + b"\x00" + compact(claims).encode())
out("jose_verify", "signed-es256", b"\x03" + compact(es_header).encode() + b"\x00" + compact(claims).encode())


def jwk(pub_name, kid):
    pub = serialization.load_pem_public_key((FIX / pub_name).read_bytes())
    if hasattr(pub, "curve"):
        nums = pub.public_numbers()
        size = (pub.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.curve.name]
        return {"use": "sig", "kty": "EC", "kid": kid, "crv": crv, "alg": "ES" + crv[2:].replace("521", "512"),
                "x": b64u(nums.x.to_bytes(size, "big")), "y": b64u(nums.y.to_bytes(size, "big"))}
    nums = pub.public_numbers()
    n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
    return {"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256", "n": b64u(n), "e": b64u(nums.e.to_bytes(3, "big"))}


keys = [jwk(k, v) for k, v in kids.items()]
out("jose_jwks", "fixtures.json", compact({"keys": keys}))
out("jose_jwks", "rsa-no-kid.json", compact({"keys": [dict(keys[-1], kid=None)]}))
out("jose_jwks", "discovery.json", compact({
    "issuer": "https://issuer.example.com", "jwks_uri": "https://issuer.example.com/openid/v1/jwks",
    "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["ES256", "RS256"]}))

# --- irsa-sigv4 ----------------------------------------------------------------------
hdr = ("POST /?x=1\nhost: sts.amazonaws.com\ncontent-type: application/x-www-form-urlencoded\n"
       "x-amz-date: 20231114T221320Z\n"
       "authorization: AWS4-HMAC-SHA256 Credential=ASIAABCDEFGHIJKLMNOP/20231114/us-east-1/sts/aws4_request, "
       "SignedHeaders=content-type;host;x-amz-date, Signature={sig}\n\n"
       "Action=GetCallerIdentity&Version=2011-06-15")
out("sigv4_verify", "header-post", hdr)
out("sigv4_verify", "header-token", hdr.replace("x-amz-date: ", "x-amz-security-token: tok\nx-amz-date: ")
    .replace("host;x-amz-date", "host;x-amz-date;x-amz-security-token"))
out("sigv4_verify", "header-date", hdr.replace("x-amz-date: 20231114T221320Z", "date: Tue, 14 Nov 2023 22:13:20 GMT")
    .replace("host;x-amz-date", "date;host"))
out("sigv4_verify", "s3-get", "GET /bucket/a%20key/./x\nhost: s3.amazonaws.com\nx-amz-date: 20231114T221320Z\n"
    "x-amz-content-sha256: UNSIGNED-PAYLOAD\nauthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/s3/aws4_request,"
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature={sig}\n\n")
out("sigv4_verify", "presigned", "GET /?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20231114T221320Z"
    "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=a%2Bb&X-Amz-Signature={sig}\nhost: sts.amazonaws.com\n\n")

# --- irsa-sts-core -------------------------------------------------------------------
from urllib.parse import urlencode
base = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
        "RoleArn": "arn:aws:iam::111122223333:role/team/app", "RoleSessionName": "s1",
        "WebIdentityToken": rs_token}
out("sts_query", "assume-body", b"\x00" + urlencode(base).encode())
out("sts_query", "assume-policy", b"\x00" + urlencode(dict(base, DurationSeconds="3600", **{
    "Policy": compact({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
    "PolicyArns.member.1.arn": "arn:aws:iam::111122223333:policy/x"})).encode())
out("sts_query", "assume-query", urlencode(dict(base, WebIdentityToken=es_token)).encode() + b"\x00")
out("sts_query", "caller", b"Action=GetCallerIdentity&Version=2011-06-15\x00")
sts_yaml = (ROOT / "fuzz/fuzz_targets/sts_common.rs").read_text().split('r#"', 1)[1].split('"#', 1)[0]
out("sts_config", "fixed.yaml", sts_yaml)
for p in [ROOT / "crates/irsa-cli/src/up/default.yaml"]:
    if p.exists():
        out("sts_config", p.name, p.read_bytes())
sc = {"r": "arn:aws:iam::111122223333:role/team/app", "ri": "AROAEXAMPLEEXAMPLE12", "sn": "s1",
      "s": "system:serviceaccount:default:app", "a": "sts.amazonaws.com",
      "p": "arn:aws:iam::111122223333:oidc-provider/issuer.example.com", "iat": NOW, "exp": NOW + 3600,
      "pol": "{}", "pa": ["arn:aws:iam::111122223333:policy/x"], "si": "me",
      "t": [{"k": "team", "v": "a"}], "tt": ["team"]}
out("sts_credentials", "sealed-claims", b"\x01" + compact(sc).encode())
out("sts_credentials", "roundtrip", b"\x02" + bytes(range(1, 200)))
out("sts_credentials", "raw", b"\x00" + base64.b64encode(b"\x01" + b"\x00" * 8 + b"ASIAABCDEFGHIJKLMNOP" + b"\x00" * 40)
    + b"\x00ASIAABCDEFGHIJKLMNOP")

# --- irsa-mutate / irsa-webhook -------------------------------------------------------
import yaml
pods = sorted(glob.glob(str(ROOT / "crates/irsa-mutate/tests/fixtures/*/*.pod.yaml")))
cms, ccs = set(), set()
for i, p in enumerate(pods):
    pod = yaml.safe_load(pathlib.Path(p).read_text())
    ann = pod.get("metadata", {}).get("annotations", {})
    for k in list(ann):
        if k.startswith("testing.eks.amazonaws.com/"):
            v = ann.pop(k)
            if k.endswith("/configMap"):
                cms.add(v)
            if k.endswith("/containercredentials/config"):
                ccs.add(v)
    if not ann:
        pod["metadata"].pop("annotations")
    name = pathlib.Path(p).parent.name + "-" + pathlib.Path(p).name.replace(".pod.yaml", ".json")
    if i % 2 == 0:
        out("mutate_pod", name, compact(pod))
    if i % 4 == 0:
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": f"uid-{i}", "namespace": "cc" if "containercredentials" in p else "default",
                              "operation": "CREATE", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "object": pod}}
        out("webhook_admission", name, compact(review))
for i, v in enumerate(sorted(cms)):
    out("mutate_config", f"configmap-{i}.json", v)
for i, v in enumerate(sorted(ccs)):
    out("mutate_config", f"containercredentials-{i}.json", v)

# --- irsa-audit -------------------------------------------------------------------------
# The account export (URL-encoded documents, as the IAM API returns them) cut to a few
# roles and policies per seed, and the ServiceAccount list.
import json
export = json.loads((ROOT / "crates/irsa-audit/tests/fixtures/account-export.json").read_text())
roles = export.get("RoleDetailList", [])
for i in range(0, len(roles), 8):
    part = {"RoleDetailList": roles[i:i + 8], "Policies": export.get("Policies", [])[:4]}
    out("audit_export", f"export-{i // 8}.json", compact(part))
out("audit_export", "empty.json", '{"RoleDetailList": []}')
sas = json.loads((ROOT / "crates/irsa-audit/tests/fixtures/service-accounts.json").read_text())
out("audit_service_accounts", "list.json", compact(sas))
for i, sa in enumerate(sas.get("items", [])[:4]):
    out("audit_service_accounts", f"one-{i}.json", compact(sa))
