#!/usr/bin/env python3
"""Writes tests/cases/resource-combinations/*.json: every combination of identity policy,
resource-policy principal, permissions boundary and session policy for the caller kinds of the
IAM User Guide's resource-policy rules, with the decision those rules give.

The expected decision is computed here, from the documentation, independently of the engine:

- "How AWS enforcement code logic evaluates requests to allow or deny access"
  (reference_policies_evaluation-logic_policy-eval-denyallow), Resource-based policies: within
  the same account a grant to the IAM user, the role session ARN or the federated user ARN is
  not limited by an implicit deny in identity policies, the permissions boundary or session
  policies; a grant to the role ARN, or to the IAM user who created a federated user session,
  is limited by an implicit deny in the boundary or a session policy; the boundary and session
  policies do not limit a grant to `*`. Session policies: a federated user session without a
  session policy is denied.
- "Session policies" (access_policies, policies_session): session ARN grants are added after
  the session is created and are not limited by the session policy.
- "Cross-account policy evaluation logic": the identity side (with its boundary and session
  policies) and the resource policy must both allow; with no resource policy the request is
  denied.
- A resource policy naming the account delegates to the account's identity policies (the
  "AWS account principals" section of "AWS JSON policy elements: Principal").

Run from anywhere: python3 crates/irsa-policy/tests/gen_resource_combinations.py
"""
import itertools
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases", "resource-combinations")

ACCOUNT = "111122223333"
OTHER = "444455556666"
OBJECT = "arn:aws:s3:::example-bucket/data/file.csv"
ACTION = "s3:GetObject"


def policy(statements):
    return {"Version": "2012-10-17", "Statement": statements}


def allow(action, sid=None):
    st = {"Effect": "Allow", "Action": action, "Resource": "*"}
    if sid:
        st = {"Sid": sid, **st}
    return st


IDENTITY = {
    "allows": [policy([allow("s3:GetObject", "IdentityAllows")])],
    "other": [policy([allow("ec2:DescribeInstances", "IdentityOther")])],
    "none": [],
}
BOUNDARY = {
    "none": [],
    "allows": [policy([allow("s3:*", "BoundaryAllows")])],
    "blocks": [policy([allow("ec2:*", "BoundaryOther")])],
}
SESSION = {
    "none": [],
    "allows": [policy([allow("s3:Get*", "SessionAllows")])],
    "blocks": [policy([allow("dynamodb:*", "SessionOther")])],
}


def callers(account):
    """(name, principal ARN, session issuer or None, {resource-policy principal name: (value, kind)})."""
    role = f"arn:aws:iam::{account}:role/app"
    session = f"arn:aws:sts::{account}:assumed-role/app/s1"
    user = f"arn:aws:iam::{account}:user/bob"
    fed = f"arn:aws:sts::{account}:federated-user/bob"
    account_names = {"account": ({"AWS": account}, "account"), "star": ("*", "self")}
    return [
        ("role-session", session, None, {
            "session": ({"AWS": session}, "self"),
            "role": ({"AWS": role}, "issuer"),
            **account_names,
        }),
        ("user", user, None, {
            "user": ({"AWS": user}, "self"),
            **account_names,
        }),
        ("federated-user", fed, user, {
            "federated-user": ({"AWS": fed}, "self"),
            "issuing-user": ({"AWS": user}, "issuer"),
            **account_names,
        }),
    ]


def expected(caller, identity, named, boundary, session, cross):
    """The documented decision. `named`: None (no resource policy) or how the resource policy
    names the caller: "self", "issuer" or "account"."""
    boundary_ok = boundary != "blocks"
    if session == "none":
        session_ok = caller != "federated-user"
    else:
        session_ok = session == "allows"
    identity_ok = identity == "allows" and boundary_ok and session_ok
    if cross:
        # Both accounts must allow: without a resource policy naming the caller, its issuer or
        # its account, the resource's account grants nothing.
        return identity_ok and named is not None
    if named is None:
        return identity_ok
    if named == "self":
        return True
    if named == "issuer":
        return identity_ok or (boundary_ok and session_ok)
    return identity_ok  # account: delegates to identity policies


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    count = 0
    for cross in (False, True):
        caller_account = OTHER if cross else ACCOUNT
        for cname, principal, issuer, names in callers(caller_account):
            if cross and cname == "user":
                continue
            sessions = ["none"] if cname == "user" else list(SESSION)
            rp_choices = [None] + list(names)
            for identity, rp, boundary, session in itertools.product(IDENTITY, rp_choices, BOUNDARY, sessions):
                if cross and (identity == "none" or boundary == "allows" or session == "allows"):
                    continue
                named = None if rp is None else names[rp][1]
                allow_it = expected(cname, identity, named, boundary, session, cross)
                request = {"action": ACTION, "resource": OBJECT, "principal": principal,
                           "resourceAccount": ACCOUNT}
                if issuer:
                    request["sessionIssuer"] = issuer
                case = {
                    "description": (
                        f"{'cross-account' if cross else 'same account'}: caller {cname}, identity policy {identity}, "
                        f"resource policy {'absent' if rp is None else 'names the ' + rp}, boundary {boundary}, "
                        f"session policy {session}"
                    ),
                    "request": request,
                    "identityPolicies": IDENTITY[identity],
                }
                if rp is not None:
                    case["resourcePolicy"] = policy([{
                        "Sid": "ResourceGrant", "Effect": "Allow", "Principal": names[rp][0],
                        "Action": ACTION, "Resource": "arn:aws:s3:::example-bucket/*",
                    }])
                if BOUNDARY[boundary]:
                    case["permissionBoundaries"] = BOUNDARY[boundary]
                if SESSION[session]:
                    case["sessionPolicies"] = SESSION[session]
                case["expected"] = "Allow" if allow_it else "ImplicitDeny"
                name = "-".join([
                    "cross" if cross else "same", cname, f"identity-{identity}",
                    f"rp-{rp or 'absent'}", f"boundary-{boundary}", f"session-{session}",
                ])
                with open(os.path.join(OUT, name + ".json"), "w") as f:
                    json.dump(case, f, indent=2)
                    f.write("\n")
                count += 1
    print(f"wrote {count} cases to {OUT}")


if __name__ == "__main__":
    main()
