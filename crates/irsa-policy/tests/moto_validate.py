#!/usr/bin/env python3
# Manual cross-check (not run by cargo): `irsa policy validate --kind identity` against
# moto's IAMPolicyDocumentValidator (moto 5.2.1, Apache-2.0), first error line per document.
# Needs `pip install moto` and a built `target/debug/irsa`. Last run: 38 documents, 0 differences.
import json, os, subprocess, sys
IRSA = os.environ.get("IRSA_BIN", os.path.join(os.path.dirname(__file__), "../../../target/debug/irsa"))
from moto.iam.policy_validation import IAMPolicyDocumentValidator, IAMTrustPolicyDocumentValidator
from moto.iam.exceptions import MalformedPolicyDocument
def st(s): return '{"Version":"2012-10-17","Statement":%s}' % s
docs = [
 "not json", '{"Version":"2012-10-17","Statement":[]}', '{"Version":"2012-10-17"}',
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Extra":1}'),
 st('{"Effect":"allow","Action":"s3:x","Resource":"*"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-13-01"}}}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T10:00:00+01:00"}}}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"1700000000"}}}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3::bucket"}'),
 st('{"Effect":"Allow","Resource":"*"}'), st('{"Effect":"Allow","Action":[],"Resource":"*"}'),
 st('{"Effect":"Allow","Action":"invalid","Resource":"*"}'), st('{"Effect":"Allow","NotAction":"","Resource":"*"}'),
 st('{"Effect":"Allow","Action":"s3:List:Bucket","Resource":"*"}'), st('{"Effect":"Allow","Action":"a a:b","Resource":"*"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"invalid resource"}'), st('{"Effect":"Allow","Action":"s3:x","Resource":""}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"a:b:c"}'), st('{"Effect":"Allow","Action":"s3:x","Resource":"a:b"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"a:b:c:d:e:f:g"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:iam:::foo"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:iam:us-east-1::role/x"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3:us-east-1::b"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3:us-east-1::accesspoint/b"}'),
 st('[{"Sid":"A","Effect":"Allow","Action":"s3:x","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:y","Resource":"*"}]'),
 st('{"Effect":"Allow","Action":"s3:x"}'), st('{"Effect":"Allow","Action":"s3:x","Resource":[]}'),
 '{"Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"}}',
 '{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"}}',
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bogus":{"a:b":"c"}}}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bogus":{}}}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"ForAnyValue:StringEqualsIfExists":{"a:b":"c"}}}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws::us-east-1:1:x"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:dynamodb:*"}'),
 st('{"Effect":"Allow","Action":"*:x","Resource":"*"}'),
 st('{"Effect":"Allow","Action":"s3:x","Resource":["arn:aws:s3:::a","bad"]}'),
 st('{"Effect":"Deny","Action":"s3:x","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":["2020-01-01","x-y"]}}}'),
]
def moto(doc, trust=False):
    try:
        (IAMTrustPolicyDocumentValidator if trust else IAMPolicyDocumentValidator)(doc).validate(); return "valid"
    except MalformedPolicyDocument as e:
        return "MalformedPolicyDocument: " + e.message
bad = 0
for d in docs:
    out = subprocess.run([IRSA,"policy","validate","--kind","identity","-"],input=d,capture_output=True,text=True).stdout.splitlines()
    ours = out[0] if out else "?"
    m = moto(d)
    if ours != m:
        bad += 1
        print("DIFF", d, "\n  ours:", ours, "\n  moto:", m)
print(len(docs), "docs", bad, "diffs")
